// Group commit while the group lives: 200 concurrent adds, removes and role changes on one
// group; the final state, every caller's answer and every claim equal a replay of the audit log
// in the order of the coordinator's sequence numbers. Each replay has a file of its own (see
// group-commit.test.ts).
import { describe, expect, it } from "vitest";
import { mix, type Op, sequencedLog } from "./group-commit/mix";
import { call, claimsSettled, client, freshTenant, shardOf, token } from "./helpers";

describe("group commit gives exactly the serial outcome", () => {
  it("state and answers equal the replay while the group lives: 200 concurrent adds, removes and role changes", async () => {
    const admin = await client(freshTenant("commit"), { scope: "admin" });
    const g = (await admin.post("/v1/groups", { name: "everyone" })).json.result.group_id as string;
    const callers = mix(7, 200).map((c) =>
      c.op.kind === "delete" || c.op.kind === "replace" ? { ...c, op: { kind: "remove", ids: ["p9"] } as Op } : c,
    );
    const tokens = await Promise.all(callers.map((c) => token({ tenant: admin.tenant, sub: c.sub, scope: "admin" })));
    const answers = await Promise.all(
      callers.map((c, i) => {
        const o = c.op;
        const tk = tokens[i]!;
        if (o.kind === "add") return call("POST", `/v1/groups/${g}/members`, { token: tk, body: { user_ids: o.ids, role: o.role } });
        if (o.kind === "role") return call("PATCH", `/v1/groups/${g}/members/${o.user}`, { token: tk, body: { role: o.role } });
        return call("DELETE", `/v1/groups/${g}/members`, { token: tk, body: { user_ids: (o as { ids: string[] }).ids } });
      }),
    );
    const bySub = new Map(callers.map((c, i) => [c.sub, { caller: c, answer: answers[i]! }]));
    const log = await sequencedLog(admin.tenant, g);
    const members = new Map<string, string>();
    const logged = new Set(log.map((e) => e.actor));
    for (const { actor } of log) {
      const { caller, answer } = bySub.get(actor)!;
      const o = caller.op;
      if (o.kind === "add") {
        const fresh = o.ids.filter((u) => !members.has(u));
        for (const u of fresh) members.set(u, o.role);
        expect(answer.json.result, actor).toEqual({ added: fresh.length, already_members: o.ids.length - fresh.length });
      } else if (o.kind === "remove") {
        const leaving = o.ids.filter((u) => members.has(u));
        for (const u of leaving) members.delete(u);
        expect(answer.json.result, actor).toEqual({
          removed: leaving.length,
          not_members: o.ids.length - leaving.length,
          still_members: [],
        });
      } else if (o.kind === "role") {
        expect(members.has(o.user)).toBe(true);
        members.set(o.user, o.role);
        expect(answer.status).toBe(204);
      }
    }
    for (const [sub, { caller, answer }] of bySub) {
      if (logged.has(sub)) continue;
      expect(caller.op.kind, sub).toBe("role"); // only a role change of a non-member is not applied
      expect(answer.status).toBe(404);
    }
    const stored = (
      await (
        await shardOf(admin.tenant)
      )
        .prepare("SELECT user_id, role FROM memberships WHERE tenant_id = ? AND group_id = ? ORDER BY user_id")
        .bind(admin.tenant, g)
        .all<{ user_id: string; role: string }>()
    ).results;
    expect(stored).toEqual([...members].sort(([a], [b]) => (a < b ? -1 : 1)).map(([user_id, role]) => ({ user_id, role })));
    expect(
      await (await shardOf(admin.tenant))
        .prepare("SELECT member_count AS n FROM groups WHERE tenant_id = ? AND id = ?")
        .bind(admin.tenant, g)
        .first("n"),
    ).toBe(stored.length);
    // Claims are queued once per flush, and every one ends equal to D1: a member's holds the
    // group, a user who left has none, a user never added does not exist.
    await claimsSettled(admin, [g]);
    expect(members.size).toBeGreaterThan(0);
    const everAdded = new Set(callers.flatMap((c) => (c.op.kind === "add" ? c.op.ids : [])));
    for (let i = 0; i < 30; i++) {
      const u = `p${i}`;
      const read = await admin.get(`/v1/users/${u}/claims`);
      if (members.has(u)) expect(read.json.result, u).toEqual({ groups: ["everyone"] });
      else if (everAdded.has(u)) expect(read.json.result, u).toEqual({ groups: [] });
      else expect(read.status, u).toBe(404);
    }
  });
});
