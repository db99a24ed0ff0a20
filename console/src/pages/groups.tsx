import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { Busy, ErrorNote, Pager, TextField, useCursorPages, useFormSubmit, when } from "../ui";

interface Group {
  group_id: string;
  name: string;
  type: string;
  member_count: number;
  user_count?: number;
  updated_at: number;
}

export function GroupsPage() {
  const [search, setSearch] = useState("");
  const pages = useCursorPages();
  const [page, setPage] = useState<{ result: Group[]; next_cursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const { cursor } = pages;

  useEffect(() => {
    const q = new URLSearchParams({ limit: "20", ...(search ? { search } : {}), ...(cursor ? { cursor } : {}) });
    api("GET", `/v1/groups?${q}`).then(setPage, (e) => setError(errorText(e)));
  }, [search, cursor]);

  const create = useFormSubmit(async () => {
    const made = await api("POST", "/v1/groups", { name, ...(description ? { description } : {}) });
    location.hash = `#/groups/${encodeURIComponent(made.result.group_id)}`;
  });

  return (
    <>
      <h1>Groups</h1>
      <label for="group-search">Search by name</label>
      <input
        id="group-search"
        type="search"
        value={search}
        onInput={(e) => {
          setSearch((e.target as HTMLInputElement).value);
          pages.restart();
        }}
      />
      <ErrorNote error={error} />
      <table aria-label="groups">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Direct members</th>
            <th scope="col">Users across the hierarchy</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {page?.result.map((g) => (
            <tr key={g.group_id}>
              <td>
                <a href={`#/groups/${encodeURIComponent(g.group_id)}`}>{g.name}</a>
              </td>
              <td>{g.type}</td>
              <td>{g.member_count}</td>
              <td>{g.user_count ?? ""}</td>
              <td>{when(g.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.result.length === 0 && <p class="muted">No groups{search ? ` starting with “${search}”` : ""}.</p>}
      <Pager {...pages.pager(page?.next_cursor)} />

      <h2>Create a group</h2>
      <form onSubmit={create.submit}>
        <TextField id="new-name" label="Name" value={name} onValue={setName} required maxLength={200} aria-describedby="create-error" />
        <TextField id="new-description" label="Description" value={description} onValue={setDescription} maxLength={2000} />
        <ErrorNote error={create.error} id="create-error" />
        <Busy busy={create.busy}>Creating…</Busy>
        <button type="submit" disabled={create.busy}>
          Create group
        </button>
      </form>
    </>
  );
}
