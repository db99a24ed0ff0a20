import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { ErrorNote } from "../ui";
import type { EffectiveRole, HeldGroup, User } from "../wire";
import { Activity } from "./activity";

export function UserPage({ id }: { id: string }) {
  const [user, setUser] = useState<User | null>(null);
  const [groups, setGroups] = useState<HeldGroup[]>([]);
  const [roles, setRoles] = useState<EffectiveRole[]>([]);
  const [claim, setClaim] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const u = encodeURIComponent(id);
    api("GET", `/v1/users/${u}`).then(
      (r) => setUser(r.result),
      (e) => setError(errorText(e)),
    );
    api("GET", `/v1/users/${u}/groups?transitive=true&limit=200`).then(
      (r) => setGroups(r.result),
      (e) => setError(errorText(e)),
    );
    api("GET", `/v1/users/${u}/roles`).then(
      (r) => setRoles(r.result),
      () => setRoles([]),
    );
    api("GET", `/v1/users/${u}/claims`).then(
      (r) => setClaim(r.result),
      (e) => setError(errorText(e)),
    );
  }, [id]);
  if (error) return <ErrorNote error={error} />;
  if (!user) return <p class="busy">Loading…</p>;
  return (
    <>
      <h1>User {user.user_id}</h1>
      <section aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        {(["name", "email", "phone_number"] as const).some((k) => user[k]) ? (
          <dl>
            {(["name", "email", "phone_number", "given_name", "family_name"] as const).map(
              (k) =>
                user[k] && (
                  <>
                    <dt>{k.replace("_", " ")}</dt>
                    <dd>{user[k]}</dd>
                  </>
                ),
            )}
          </dl>
        ) : (
          <p class="muted">A bare profile: no name, email or phone number yet.</p>
        )}
      </section>
      <section aria-labelledby="user-groups-title">
        <h2 id="user-groups-title">Groups</h2>
        <table aria-label="user groups">
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Held</th>
              <th scope="col">Role</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr key={g.group_id}>
                <td>
                  <a href={`#/groups/${encodeURIComponent(g.group_id)}`}>{g.name}</a>
                </td>
                <td>{g.membership}</td>
                <td>{g.role ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="user-roles-title">
        <h2 id="user-roles-title">Effective roles</h2>
        {roles.length === 0 ? (
          <p class="muted">No roles.</p>
        ) : (
          <ul>
            {roles.map((r) => (
              <li key={r.role_id}>
                {r.name} (level {r.level}){r.direct ? ", own" : ""}
                {r.via_groups.length ? `, through ${r.via_groups.length} group(s)` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="claim-title">
        <h2 id="claim-title">ID token claim</h2>
        <figure aria-label="claim">
          <pre>{JSON.stringify(claim, null, 2)}</pre>
        </figure>
      </section>
      <Activity filter={{ user_id: id }} />
    </>
  );
}
