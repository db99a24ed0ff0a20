// Random mixes of membership changes for the group-commit replays (seeded, so a failing mix can
// be run again), and the coordinator's log of what it applied, which the replays follow.
import { seeded, shardOf } from "../helpers";

export type Op =
  | { kind: "add"; ids: string[]; role: "member" | "admin" }
  | { kind: "remove"; ids: string[] }
  | { kind: "replace"; ids: string[] }
  | { kind: "role"; user: string; role: "member" | "admin" }
  | { kind: "delete" };

export interface Caller {
  sub: string;
  /** "exempt": an admin-scope token; "boss": a role above the group's; "minion": a role not above it (refused). */
  who: "exempt" | "boss" | "minion";
  op: Op;
}

export function mix(seed: number, callers: number): Caller[] {
  const r = seeded(seed);
  const pool = Array.from({ length: 30 }, (_, i) => `p${i}`);
  const some = (n: number) => [...new Set(Array.from({ length: n }, () => pool[Math.floor(r() * pool.length)]!))];
  const deleteAt = Math.floor(callers * 0.8);
  return Array.from({ length: callers }, (_, i) => {
    const x = r();
    const who = x < 0.1 ? "minion" : x < 0.55 ? "boss" : "exempt";
    let op: Op;
    const y = r();
    if (i === deleteAt) return { sub: `c${i}`, who: "exempt", op: { kind: "delete" } };
    if (y < 0.45) op = { kind: "add", ids: some(1 + Math.floor(r() * 3)), role: r() < 0.2 ? "admin" : "member" };
    else if (y < 0.8) op = { kind: "remove", ids: some(1 + Math.floor(r() * 3)) };
    else if (y < 0.95) op = { kind: "role", user: some(1)[0]!, role: r() < 0.5 ? "admin" : "member" };
    else op = { kind: "replace", ids: some(5 + Math.floor(r() * 5)) };
    return { sub: `c${i}`, who, op };
  });
}

/** The group's changes its coordinator applied, in the order of its sequence numbers. */
export async function sequencedLog(tenant: string, groupId: string) {
  const rows = await (await shardOf(tenant))
    .prepare(
      "SELECT actor, action, seq, detail FROM audit_log WHERE tenant_id = ? AND target_type = 'group' AND target_id = ? AND seq IS NOT NULL ORDER BY seq",
    )
    .bind(tenant, groupId)
    .all<{ actor: string; action: string; seq: number; detail: string }>();
  return rows.results;
}
