import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { Busy, ErrorNote, Pager, TextField, useCursorPages, when } from "../ui";
import type { GroupRef, Member, Role, StillMember } from "../wire";
import { Activity } from "./activity";

interface Group {
  group_id: string;
  name: string;
  description: string;
  type: string;
  custom_data: Record<string, unknown>;
  member_count: number;
  user_count: number;
  updated_at: number;
}

export function GroupPage({ id }: { id: string }) {
  const [group, setGroup] = useState<Group | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  useEffect(() => {
    api("GET", `/v1/groups/${encodeURIComponent(id)}`).then(
      (r) => setGroup(r.result),
      (e) => setError(errorText(e)),
    );
  }, [id, version]);
  if (error) return <ErrorNote error={error} />;
  if (!group) return <p class="busy">Loading…</p>;
  return (
    <>
      <h1>{group.name}</h1>
      <p class="muted">
        {group.type} · {group.member_count} direct members · {group.user_count} users across the hierarchy · updated{" "}
        {when(group.updated_at)}
      </p>
      <Details group={group} onSaved={reload} />
      <Members id={id} onChanged={reload} />
      <Roles id={id} />
      <Hierarchy id={id} />
      <Traits id={id} />
      <Activity key={version} filter={{ group_id: id }} />
      <DeleteGroup group={group} />
    </>
  );
}

function Details({ group, onSaved }: { group: Group; onSaved: () => void }) {
  const [name, setName] = useState(group.name);
  const [description, setDescription] = useState(group.description);
  const [custom, setCustom] = useState(JSON.stringify(group.custom_data, null, 2));
  const [error, setError] = useState<string | null>(null);
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const parse = (text: string) => {
    try {
      const v = JSON.parse(text);
      if (!v || typeof v !== "object" || Array.isArray(v)) return 'custom data must be a JSON object, such as {"key": "value"}';
      return null;
    } catch (e) {
      return `custom data is not valid JSON: ${(e as Error).message}`;
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const bad = parse(custom);
    setJsonError(bad);
    if (bad) return;
    setError(null);
    try {
      await api("PATCH", `/v1/groups/${encodeURIComponent(group.group_id)}`, { name, description, custom_data: JSON.parse(custom) });
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form onSubmit={save} aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <label for="g-name">Name</label>
      <input
        id="g-name"
        value={name}
        onInput={(e) => {
          setName((e.target as HTMLInputElement).value);
          setSaved(false);
        }}
        required
        maxLength={200}
      />
      <label for="g-description">Description</label>
      <input
        id="g-description"
        value={description}
        onInput={(e) => {
          setDescription((e.target as HTMLInputElement).value);
          setSaved(false);
        }}
        maxLength={2000}
      />
      <label for="g-custom">Custom data (JSON)</label>
      <textarea
        id="g-custom"
        rows={5}
        value={custom}
        aria-invalid={Boolean(jsonError)}
        aria-describedby="g-custom-error"
        onInput={(e) => {
          const t = (e.target as HTMLTextAreaElement).value;
          setCustom(t);
          setJsonError(parse(t));
          setSaved(false);
        }}
      />
      <ErrorNote error={jsonError} id="g-custom-error" />
      <ErrorNote error={error} />
      {saved && <p role="status">Saved.</p>}
      <button type="submit" disabled={Boolean(jsonError)}>
        Save
      </button>
    </form>
  );
}

function Members({ id, onChanged }: { id: string; onChanged: () => void }) {
  const [search, setSearch] = useState("");
  const pages = useCursorPages();
  const [page, setPage] = useState<{ result: Member[]; next_cursor: string | null } | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [lines, setLines] = useState("");
  const [ends, setEnds] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const { cursor } = pages;
  useEffect(() => {
    const q = new URLSearchParams({ limit: "20", ...(search ? { search } : {}), ...(cursor ? { cursor } : {}) });
    api("GET", `/v1/groups/${encodeURIComponent(id)}/members?${q}`).then(setPage, (e) => setError(errorText(e)));
  }, [id, search, cursor, version]);

  const add = async (e: Event) => {
    e.preventDefault();
    const refs = lines
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    if (refs.length === 0) return;
    if (refs.length > 1000) return setError(`at most 1,000 members at once; there are ${refs.length} lines`);
    const body = {
      user_ids: refs.filter((r) => !r.includes("@") && !r.startsWith("+")),
      emails: refs.filter((r) => r.includes("@")),
      phone_numbers: refs.filter((r) => r.startsWith("+")),
    };
    // A local date and time from the form → epoch seconds (the API's times).
    const expiry = ends ? { expires_at: Math.floor(new Date(ends).getTime() / 1000) } : {};
    setBusy(`Adding ${refs.length} member(s)…`);
    setError(null);
    try {
      const r = await api("POST", `/v1/groups/${encodeURIComponent(id)}/members`, {
        ...Object.fromEntries(Object.entries(body).filter(([, v]) => v.length > 0)),
        ...expiry,
      });
      setLines(""); // only cleared once the server has them
      setEnds("");
      setBusy(null);
      setError(r.result.already_members > 0 ? `${r.result.already_members} were members already` : null);
      setVersion((v) => v + 1);
      onChanged();
    } catch (err) {
      setBusy(null);
      setError(errorText(err));
    }
  };
  const remove = async () => {
    setBusy(`Removing ${selected.size} member(s)…`);
    try {
      const r = await api("DELETE", `/v1/groups/${encodeURIComponent(id)}/members`, { user_ids: [...selected] });
      const kept = (r.result.still_members as StillMember[]).map((m) => `${m.user_id} (${m.sources.join(", ")})`);
      setError(kept.length > 0 ? `Still members through other sources: ${kept.join("; ")}` : null);
      setSelected(new Set());
      setVersion((v) => v + 1);
      onChanged();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };
  const toggle = (userId: string) => {
    const next = new Set(selected);
    if (next.has(userId)) next.delete(userId);
    else next.add(userId);
    setSelected(next);
  };
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <label for="member-search">Search members (id, email or name)</label>
      <input
        id="member-search"
        type="search"
        value={search}
        onInput={(e) => {
          setSearch((e.target as HTMLInputElement).value);
          pages.restart();
        }}
      />
      <table aria-label="members">
        <thead>
          <tr>
            <th scope="col">Select</th>
            <th scope="col">User</th>
            <th scope="col">Email</th>
            <th scope="col">Phone</th>
            <th scope="col">Role</th>
            <th scope="col">Sources</th>
            <th scope="col">Ends</th>
          </tr>
        </thead>
        <tbody>
          {page?.result.map((m) => (
            <tr key={m.user_id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`select ${m.user_id}`}
                  checked={selected.has(m.user_id)}
                  onChange={() => toggle(m.user_id)}
                />
              </td>
              <td>
                <a href={`#/users/${encodeURIComponent(m.user_id)}`}>{m.user_id}</a>
                {m.name ? ` (${m.name})` : ""}
              </td>
              <td>{m.email ?? ""}</td>
              <td>{m.phone_number ?? ""}</td>
              <td>{m.role}</td>
              <td>{m.sources.join(", ")}</td>
              <td>{m.expires_at === null ? "" : new Date(m.expires_at * 1000).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager {...pages.pager(page?.next_cursor)} />
      <button type="button" class="danger" disabled={selected.size === 0 || Boolean(busy)} onClick={remove}>
        Remove selected ({selected.size})
      </button>
      <form onSubmit={add}>
        <label for="add-members">Add members: one user id, email or phone number (E.164) per line, up to 1,000</label>
        <textarea
          id="add-members"
          rows={4}
          value={lines}
          aria-describedby="members-error"
          onInput={(e) => setLines((e.target as HTMLTextAreaElement).value)}
        />
        <TextField id="add-ends" label="Membership ends (optional; empty: never)" type="datetime-local" value={ends} onValue={setEnds} />
        <ErrorNote error={error} id="members-error" />
        <Busy busy={Boolean(busy)}>{busy}</Busy>
        <button type="submit" disabled={Boolean(busy)}>
          Add members
        </button>
      </form>
    </section>
  );
}

function Roles({ id }: { id: string }) {
  const [roles, setRoles] = useState<Role[]>([]);
  const [all, setAll] = useState<Role[]>([]);
  const [choice, setChoice] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    api("GET", `/v1/groups/${encodeURIComponent(id)}/roles`).then(
      (r) => setRoles(r.result),
      (e) => setError(errorText(e)),
    );
    api("GET", "/v1/roles").then(
      (r) => setAll(r.result),
      () => setAll([]),
    );
  }, [id, version]);
  const change = async (method: "POST" | "DELETE", roleId: string) => {
    setError(null);
    try {
      await api(method, `/v1/groups/${encodeURIComponent(id)}/roles`, { role_ids: [roleId] });
      setVersion((v) => v + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="roles-title">
      <h2 id="roles-title">Roles on this group</h2>
      <ul>
        {roles.map((r) => (
          <li key={r.role_id}>
            {r.name} (level {r.level}){" "}
            <button type="button" class="secondary" onClick={() => change("DELETE", r.role_id)}>
              Remove {r.name}
            </button>
          </li>
        ))}
      </ul>
      {roles.length === 0 && <p class="muted">No roles.</p>}
      <label for="role-choice">Assign a role</label>
      <select id="role-choice" value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
        <option value="">Choose…</option>
        {all
          .filter((r) => !roles.some((x) => x.role_id === r.role_id))
          .map((r) => (
            <option key={r.role_id} value={r.role_id}>
              {r.name} (level {r.level})
            </option>
          ))}
      </select>
      <button type="button" disabled={!choice} onClick={() => change("POST", choice)}>
        Assign
      </button>
      <ErrorNote error={error} />
    </section>
  );
}

function Subtree({ id, depth }: { id: string; depth: number }) {
  const [children, setChildren] = useState<GroupRef[] | null>(null);
  useEffect(() => {
    api("GET", `/v1/groups/${encodeURIComponent(id)}/children`).then(
      (r) => setChildren(r.result),
      () => setChildren([]),
    );
  }, [id]);
  if (!children || children.length === 0) return null;
  return (
    <ul>
      {children.map((c) => (
        <li key={c.group_id}>
          <a href={`#/groups/${encodeURIComponent(c.group_id)}`}>{c.name}</a>
          {depth < 5 && <Subtree id={c.group_id} depth={depth + 1} />}
        </li>
      ))}
    </ul>
  );
}

function Hierarchy({ id }: { id: string }) {
  const [parents, setParents] = useState<GroupRef[]>([]);
  const [children, setChildren] = useState<GroupRef[]>([]);
  const [child, setChild] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    api("GET", `/v1/groups/${encodeURIComponent(id)}/parents`).then(
      (r) => setParents(r.result),
      (e) => setError(errorText(e)),
    );
    api("GET", `/v1/groups/${encodeURIComponent(id)}/children`).then(
      (r) => setChildren(r.result),
      (e) => setError(errorText(e)),
    );
  }, [id, version]);
  const change = async (method: "POST" | "DELETE", childId: string) => {
    setError(null);
    try {
      await api(method, `/v1/groups/${encodeURIComponent(id)}/children`, { group_ids: [childId] });
      if (method === "POST") setChild("");
      setVersion((v) => v + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="hierarchy-title" class="tree">
      <h2 id="hierarchy-title">Parents and children</h2>
      <p>
        Parents:{" "}
        {parents.length === 0 ? (
          <span class="muted">none</span>
        ) : (
          parents.map((p, i) => (
            <>
              {i > 0 && ", "}
              <a href={`#/groups/${encodeURIComponent(p.group_id)}`}>{p.name}</a>
            </>
          ))
        )}
      </p>
      <ul>
        {children.map((c) => (
          <li key={c.group_id}>
            <a href={`#/groups/${encodeURIComponent(c.group_id)}`}>{c.name}</a>
            <button type="button" class="secondary" onClick={() => change("DELETE", c.group_id)}>
              Unlink {c.name}
            </button>
            <Subtree id={c.group_id} depth={1} />
          </li>
        ))}
      </ul>
      <label for="child-id">Link a child group (its id)</label>
      <input
        id="child-id"
        value={child}
        onInput={(e) => setChild((e.target as HTMLInputElement).value.trim())}
        aria-describedby="hierarchy-error"
      />
      <button type="button" disabled={!child} onClick={() => change("POST", child)}>
        Link child
      </button>
      <ErrorNote error={error} id="hierarchy-error" />
    </section>
  );
}

function Traits({ id }: { id: string }) {
  const [traits, setTraits] = useState<Record<string, { value: unknown; event_at: number }>>({});
  useEffect(() => {
    api("GET", `/v1/groups/${encodeURIComponent(id)}/traits`).then(
      (r) => setTraits(r.result),
      () => setTraits({}),
    );
  }, [id]);
  const entries = Object.entries(traits);
  return (
    <section aria-labelledby="traits-title">
      <h2 id="traits-title">Traits from group calls</h2>
      {entries.length === 0 ? (
        <p class="muted">No traits.</p>
      ) : (
        <table aria-label="traits">
          <thead>
            <tr>
              <th scope="col">Trait</th>
              <th scope="col">Value</th>
              <th scope="col">Event time</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k}>
                <td>{k}</td>
                <td>
                  <code>{JSON.stringify(v.value)}</code>
                </td>
                <td>{new Date(v.event_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function DeleteGroup({ group }: { group: Group }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    try {
      await api("DELETE", `/v1/groups/${encodeURIComponent(group.group_id)}`);
      location.hash = "#/groups";
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="delete-title">
      <h2 id="delete-title">Delete</h2>
      {!open ? (
        <button type="button" class="danger" onClick={() => setOpen(true)}>
          Delete this group…
        </button>
      ) : (
        <div role="dialog" aria-modal="false" aria-labelledby="confirm-title">
          <p id="confirm-title">
            Delete the group <strong>{group.name}</strong> and its {group.member_count} memberships? Type its name to confirm.
          </p>
          <TextField id="confirm-name" label="Group name" value={typed} onValue={setTyped} />
          <button type="button" class="danger" disabled={typed !== group.name} onClick={remove}>
            Delete {group.name}
          </button>
          <button type="button" class="secondary" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <ErrorNote error={error} />
        </div>
      )}
    </section>
  );
}
