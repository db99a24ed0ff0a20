// Webhooks: register an endpoint (its signing secret shown once), list the tenant's endpoints,
// pause, resume or delete one, and see its deliveries, redelivering one.
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { Busy, ErrorNote, SecretShownOnce, TextField, useFormSubmit, when } from "../ui";
import type { Webhook, WebhookDelivery } from "../wire";

export function WebhooksPage() {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    api("GET", "/v1/webhooks").then(
      (r) => setHooks(r.result),
      (e) => setError(errorText(e)),
    );
  }, [version]);
  const reload = () => setVersion((v) => v + 1);
  const act = async (method: string, hook: Webhook, body?: unknown) => {
    setError(null);
    try {
      await api(method, `/v1/webhooks/${encodeURIComponent(hook.webhook_id)}`, body);
      if (method === "DELETE" && open === hook.webhook_id) setOpen(null);
      reload();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <h1>Webhooks</h1>
      <p class="muted">
        This tenant's changes, posted to your endpoints as they land, signed per Standard Webhooks (webhook-id, webhook-timestamp,
        webhook-signature).
      </p>
      <CreateWebhook onCreated={reload} />
      <h2 id="hooks-title">Endpoints</h2>
      <ErrorNote error={error} />
      <table aria-labelledby="hooks-title">
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Events</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="muted">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {hooks?.map((h) => (
            <tr key={h.webhook_id}>
              <td>
                <code>{h.url}</code>
              </td>
              <td>{h.types === null ? "all" : h.types.join(", ")}</td>
              <td>{h.paused ? "paused" : "active"}</td>
              <td>
                <button type="button" onClick={() => setOpen(open === h.webhook_id ? null : h.webhook_id)}>
                  Deliveries to {h.url}
                </button>{" "}
                <button type="button" onClick={() => act("PATCH", h, { paused: !h.paused })}>
                  {h.paused ? "Resume" : "Pause"} {h.url}
                </button>{" "}
                <button
                  type="button"
                  class="danger"
                  onClick={() => confirm(`Delete the webhook to ${h.url}? Its queued deliveries are dropped.`) && act("DELETE", h)}
                >
                  Delete {h.url}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {hooks && hooks.length === 0 && <p class="muted">No endpoints yet.</p>}
      {open && <Deliveries id={open} />}
    </>
  );
}

function CreateWebhook({ onCreated }: { onCreated: () => void }) {
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const {
    busy,
    error,
    submit: create,
  } = useFormSubmit(async () => {
    const list = types
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const made = await api("POST", "/v1/webhooks", { url, ...(list.length ? { types: list } : {}) });
    setSecret(made.result.secret);
    setUrl("");
    setTypes("");
    onCreated();
  });
  return (
    <section aria-labelledby="create-hook-title">
      <h2 id="create-hook-title">Add an endpoint</h2>
      {secret && <SecretShownOnce id="hook-secret" what="The endpoint's signing secret" secret={secret} />}
      <form onSubmit={create}>
        <TextField id="hook-url" label="URL" value={url} onValue={setUrl} required placeholder="https://hooks.example.com/edge-groups" />
        <TextField
          id="hook-types"
          label="Event types (comma-separated; empty: all)"
          value={types}
          onValue={setTypes}
          placeholder="group.members.added, group.members.removed"
        />
        <ErrorNote error={error} id="create-hook-error" />
        <Busy busy={busy}>Adding…</Busy>
        <button type="submit" disabled={busy}>
          Add endpoint
        </button>
      </form>
    </section>
  );
}

function Deliveries({ id }: { id: string }) {
  const [rows, setRows] = useState<WebhookDelivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const path = `/v1/webhooks/${encodeURIComponent(id)}/deliveries`;
  useEffect(() => {
    api("GET", `${path}?limit=50`).then(
      (r) => setRows(r.result),
      (e) => setError(errorText(e)),
    );
  }, [path, version]);
  const redeliver = async (d: WebhookDelivery) => {
    setError(null);
    try {
      await api("POST", `${path}/${encodeURIComponent(d.event_id)}/redeliver`);
      setVersion((v) => v + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      <button type="button" onClick={() => setVersion((v) => v + 1)}>
        Refresh deliveries
      </button>
      <ErrorNote error={error} />
      <table aria-labelledby="deliveries-title">
        <thead>
          <tr>
            <th scope="col">Event (webhook-id)</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last answer</th>
            <th scope="col">
              <span class="muted">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows?.map((d) => (
            <tr key={d.event_id}>
              <td>
                <code>{d.event_id}</code>
              </td>
              <td>{d.status}</td>
              <td>{d.attempts}</td>
              <td>
                {d.last_status ?? d.last_error ?? ""}
                {d.last_attempt_at !== null && ` (${when(d.last_attempt_at)})`}
              </td>
              <td>
                <button type="button" onClick={() => redeliver(d)}>
                  Redeliver {d.event_id}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows && rows.length === 0 && <p class="muted">Nothing delivered yet.</p>}
    </section>
  );
}
