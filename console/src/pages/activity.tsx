// A group's or a user's changes, from the change stream (GET /v1/events), oldest first,
// a page at a time. Needs a token with events:read or admin; without one it says so.
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorText } from "../api";
import type { components } from "../api-types";

type ChangeEvent = components["schemas"]["ChangeEvent"];

const PAGE = 50;

/** What changed, in a few words. */
function summary(e: ChangeEvent): string {
  const users = e.user_ids?.length ? `${e.user_ids.length === 1 ? e.user_ids[0] : `${e.user_ids.length} users`}` : "";
  const fields = e.after && typeof e.after === "object" ? Object.keys(e.after as object).join(", ") : "";
  const ids = (key: string, what: string) => {
    const list = e.detail[key];
    return Array.isArray(list) && list.length > 0 ? `${list.length === 1 ? list[0] : list.length} ${what}` : "";
  };
  return [users, fields, ids("child_ids", "child group(s)"), ids("role_ids", "role(s)"), ids("group_ids", "group(s) left")]
    .filter(Boolean)
    .join(" · ");
}

export function Activity({ filter }: { filter: { group_id: string } | { user_id: string } }) {
  const [events, setEvents] = useState<ChangeEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const query = new URLSearchParams({ ...filter, limit: String(PAGE) }).toString();
  const load = (after: string | null, shown: ChangeEvent[]) =>
    api("GET", `/v1/events?${query}${after ? `&after=${after}` : ""}`).then(
      (r) => {
        setEvents([...shown, ...r.result]);
        setNext(r.next_cursor);
        setMore(r.has_more);
      },
      (e) => setError(e instanceof ApiError && e.status === 403 ? "Activity needs a token with events:read or admin." : errorText(e)),
    );
  useEffect(() => {
    setEvents([]);
    setError(null);
    void load(null, []);
  }, [query]);
  return (
    <section aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      {error ? (
        <p class="muted">{error}</p>
      ) : events.length === 0 ? (
        <p class="muted">No changes recorded.</p>
      ) : (
        <table aria-label="activity">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Change</th>
              <th scope="col">By</th>
              <th scope="col">Through</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.occurred_at).toLocaleString()}</td>
                <td>{e.type}</td>
                <td>{e.actor ?? ""}</td>
                <td>{e.source ?? ""}</td>
                <td>{summary(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && next ? (
        <button type="button" onClick={() => void load(next, events)}>
          Show later changes
        </button>
      ) : null}
    </section>
  );
}
