// API keys: create one (its secret is shown once, with a copy button), list the tenant's
// keys without secrets, revoke one.
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { Busy, ErrorNote, SecretShownOnce, TextField, useFormSubmit, when } from "../ui";
import type { ApiKey } from "../wire";

const SCOPES: [string, string][] = [
  ["groups:read", "read groups, members and users"],
  ["groups:write", "change groups, members and users"],
  ["claims:read", "read users' groups claims"],
  ["scim", "SCIM provisioning (Okta, Entra)"],
  ["group_api", "analytics group calls and Segment write key"],
  ["hooks", "Okta token inline hook"],
  ["admin", "everything, including keys, roles and settings"],
];

function status(k: ApiKey) {
  if (k.revoked_at !== null) return `revoked ${when(k.revoked_at)}`;
  if (k.expires_at !== null && k.expires_at * 1000 <= Date.now()) return `expired ${when(k.expires_at)}`;
  return k.expires_at !== null ? `active until ${when(k.expires_at)}` : "active";
}

export function ApiKeysPage() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    api("GET", "/v1/api-keys").then(
      (r) => setKeys(r.result),
      (e) => setError(errorText(e)),
    );
  }, [version]);
  const reload = () => setVersion((v) => v + 1);
  return (
    <>
      <h1>API keys</h1>
      <p class="muted">
        Long-lived credentials of this tenant for identity providers (SCIM), analytics SDKs (write key), Okta's token hook and scripts.
      </p>
      <CreateKey onCreated={reload} />
      <h2 id="keys-title">Keys</h2>
      <ErrorNote error={error} />
      <table aria-labelledby="keys-title">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Starts with</th>
            <th scope="col">Scopes</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="muted">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys?.map((k) => (
            <tr key={k.key_id}>
              <td>{k.name}</td>
              <td>
                <code>{k.hint}…</code>
              </td>
              <td>{k.scopes.join(" ")}</td>
              <td>{k.last_used_at === null ? "never" : when(k.last_used_at)}</td>
              <td>{status(k)}</td>
              <td>{k.revoked_at === null && <RevokeKey apiKey={k} onRevoked={reload} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {keys && keys.length === 0 && <p class="muted">No keys yet.</p>}
    </>
  );
}

function CreateKey({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>([]);
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const toggle = (s: string, on: boolean) => setScopes(on ? [...scopes, s] : scopes.filter((x) => x !== s));
  const {
    busy,
    error,
    submit: create,
  } = useFormSubmit(async () => {
    const expires_at = expires ? Math.floor(new Date(`${expires}T23:59:59`).getTime() / 1000) : undefined;
    const made = await api("POST", "/v1/api-keys", { name, scopes, ...(expires_at ? { expires_at } : {}) });
    setSecret(made.result.secret);
    setName("");
    setScopes([]);
    setExpires("");
    onCreated();
  });
  return (
    <section aria-labelledby="create-key-title">
      <h2 id="create-key-title">Create a key</h2>
      {secret && <SecretShownOnce id="new-secret" what="The new key's secret" secret={secret} />}
      <form onSubmit={create}>
        <TextField id="key-name" label="Name" value={name} onValue={setName} required maxLength={200} placeholder="Okta SCIM" />
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map(([s, what]) => (
            <label key={s} style={{ fontWeight: "normal" }}>
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => toggle(s, (e.target as HTMLInputElement).checked)} />{" "}
              <code>{s}</code>: {what}
            </label>
          ))}
        </fieldset>
        <TextField id="key-expires" label="Expires on (optional)" type="date" value={expires} onValue={setExpires} />
        <ErrorNote error={error} id="create-key-error" />
        <Busy busy={busy}>Creating…</Busy>
        <button type="submit" disabled={busy}>
          Create key
        </button>
      </form>
    </section>
  );
}

function RevokeKey({ apiKey, onRevoked }: { apiKey: ApiKey; onRevoked: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const revoke = async () => {
    if (!confirm(`Revoke “${apiKey.name}”? Whatever uses it stops working within 30 seconds.`)) return;
    try {
      await api("DELETE", `/v1/api-keys/${encodeURIComponent(apiKey.key_id)}`);
      onRevoked();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <button type="button" class="danger" onClick={revoke}>
        Revoke {apiKey.name}
      </button>
      <ErrorNote error={error} />
    </>
  );
}
