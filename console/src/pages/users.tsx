import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { ErrorNote, Pager, TextField, useCursorPages, when } from "../ui";

interface User {
  user_id: string;
  email: string | null;
  name: string | null;
  updated_at: number;
}

export function UsersPage() {
  const [typed, setTyped] = useState("");
  // The filter applies on Find: the API refuses an address half typed.
  const [email, setEmail] = useState("");
  const pages = useCursorPages();
  const [page, setPage] = useState<{ result: User[]; next_cursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { cursor } = pages;

  useEffect(() => {
    setError(null);
    const q = new URLSearchParams({ limit: "20", ...(email ? { email } : {}), ...(cursor ? { cursor } : {}) });
    api("GET", `/v1/users?${q}`).then(setPage, (e) => setError(errorText(e)));
  }, [email, cursor]);

  const find = (e: Event) => {
    e.preventDefault();
    setEmail(typed.trim());
    pages.restart();
  };

  return (
    <>
      <h1>Users</h1>
      <form onSubmit={find}>
        <TextField id="user-email" label="Find by email" type="email" value={typed} onValue={setTyped} />
        <button type="submit">Find</button>
      </form>
      <ErrorNote error={error} />
      <table aria-label="users">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {page?.result.map((u) => (
            <tr key={u.user_id}>
              <td>
                <a href={`#/users/${encodeURIComponent(u.user_id)}`}>{u.user_id}</a>
              </td>
              <td>{u.email ?? ""}</td>
              <td>{u.name ?? ""}</td>
              <td>{when(u.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.result.length === 0 && <p class="muted">No users{email ? ` with the email “${email}”` : ""}.</p>}
      <Pager {...pages.pager(page?.next_cursor)} />
    </>
  );
}
