// Group commit with a group delete among the changes: 200 concurrent callers mixing add,
// remove, replace, role change and the delete, in 3 rounds. The final state and every
// caller's answer equal a replay of the audit log in the order of the coordinator's
// sequence numbers. Each replay has a file of its own (see group-commit.test.ts).
import { describe, expect, it } from "vitest";
import { type Caller, mix, sequencedLog } from "./group-commit/mix";
import { call, claimsWritten, client, eventually, freshTenant, shardOf, token } from "./helpers";

describe("group commit gives exactly the serial outcome", () => {
  it("200 concurrent callers mixing add, remove, replace, role change and a group delete, in 3 rounds: state and every answer equal a serial replay", async () => {
    const admin = await client(freshTenant("commit"), { scope: "admin" });
    const t = admin.tenant;
    const role = async (key: string, level: number) =>
      (await admin.post("/v1/roles", { key, name: key, level })).json.result.role_id as string;
    const guard = await role("guard", 5);
    await role("boss", 1);
    await role("minion", 9);

    for (const seed of [1, 2, 3]) {
      const g = (await admin.post("/v1/groups", { name: `hot ${seed}` })).json.result.group_id as string;
      expect((await admin.post(`/v1/groups/${g}/roles`, { role_ids: [guard] })).status).toBe(200);
      expect((await admin.post(`/v1/groups/${g}/members`, { user_ids: ["p0", "p1", "p2"] })).status).toBe(200);
      const callers = mix(seed, 200);
      const tokens = await Promise.all(
        callers.map((c) =>
          token(
            c.who === "exempt"
              ? { tenant: t, sub: c.sub, scope: "admin" }
              : { tenant: t, sub: c.sub, scope: "groups:read groups:write", roles: [c.who] },
          ),
        ),
      );
      const send = (c: Caller, tk: string) => {
        const o = c.op;
        const base = `/v1/groups/${g}`;
        if (o.kind === "add") return call("POST", `${base}/members`, { token: tk, body: { user_ids: o.ids, role: o.role } });
        if (o.kind === "remove") return call("DELETE", `${base}/members`, { token: tk, body: { user_ids: o.ids } });
        if (o.kind === "replace") return call("PUT", `${base}/members`, { token: tk, body: { user_ids: o.ids } });
        if (o.kind === "role") return call("PATCH", `${base}/members/${o.user}`, { token: tk, body: { role: o.role } });
        return call("DELETE", base, { token: tk });
      };
      const answers = await Promise.all(callers.map((c, i) => send(c, tokens[i]!)));
      const bySub = new Map(callers.map((c, i) => [c.sub, { caller: c, answer: answers[i]! }]));

      const log = await sequencedLog(t, g);
      // The setup's role and add, then one entry per applied change, numbered without gaps.
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
      expect(log.slice(0, 2).map((e) => e.action)).toEqual(["roles.assign", "members.add"]);

      const members = new Map<string, string>([
        ["p0", "member"],
        ["p1", "member"],
        ["p2", "member"],
      ]);
      let deleted = false;
      const logged = new Set<string>();
      for (const entry of log.slice(2)) {
        expect(deleted, "nothing is applied after the delete").toBe(false);
        const { caller, answer } = bySub.get(entry.actor)!;
        logged.add(entry.actor);
        expect(caller.who, `${entry.actor} was refused by the role rules, yet logged`).not.toBe("minion");
        const o = caller.op;
        if (o.kind === "add") {
          const fresh = o.ids.filter((u) => !members.has(u));
          for (const u of fresh) members.set(u, o.role);
          expect(answer.status, entry.actor).toBe(200);
          expect(answer.json.result, entry.actor).toEqual({ added: fresh.length, already_members: o.ids.length - fresh.length });
        } else if (o.kind === "remove") {
          const leaving = o.ids.filter((u) => members.has(u));
          for (const u of leaving) members.delete(u);
          expect(answer.status, entry.actor).toBe(200);
          expect(answer.json.result, entry.actor).toEqual({
            removed: leaving.length,
            not_members: o.ids.length - leaving.length,
            still_members: [],
          });
        } else if (o.kind === "replace") {
          const added = o.ids.filter((u) => !members.has(u));
          const removed = [...members.keys()].filter((u) => !o.ids.includes(u));
          for (const u of removed) members.delete(u);
          for (const u of added) members.set(u, "member");
          expect(answer.status, entry.actor).toBe(200);
          expect(answer.json.result, entry.actor).toEqual({ added: added.length, removed: removed.length, member_count: o.ids.length });
        } else if (o.kind === "role") {
          expect(members.has(o.user), `${entry.actor} changed the role of a non-member`).toBe(true);
          members.set(o.user, o.role);
          expect(answer.status, entry.actor).toBe(204);
        } else {
          deleted = true;
          expect(answer.status, entry.actor).toBe(204);
        }
      }
      expect(deleted).toBe(true);
      // Every caller not in the log was refused: by the role rules (only and always the
      // minions), or 404 (a change after the delete, or a role change of a non-member).
      for (const [sub, { caller, answer }] of bySub) {
        if (logged.has(sub)) continue;
        // A minion is refused while the group holds its role; once the group is deleted
        // (its roles with it) every change is 404, as when run alone.
        if (caller.who === "minion" && answer.status !== 404) {
          expect(answer.status, sub).toBe(403);
          expect(answer.json.error.code, sub).toBe("forbidden");
        } else expect(answer.status, `${sub} ${JSON.stringify(caller.op)} ${answer.text}`).toBe(404);
      }
      // The group is gone with every row that hung off it: the replay's end state.
      expect(
        await (await shardOf(t))
          .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = ?")
          .bind(t, g)
          .first("n"),
      ).toBe(0);
    }
    // Every round's group is gone, so once its coordinator has handed the claims on and the
    // writers are done, no user's claim names a group (and no claims work outlives the file).
    await eventually(
      async () => {
        const reads = await Promise.all(Array.from({ length: 30 }, (_, i) => admin.get(`/v1/users/p${i}/claims`)));
        return reads.every((r) => r.status === 404 || (r.status === 200 && r.json.result.groups.length === 0));
      },
      60_000,
      200,
    );
    await claimsWritten(t);
    // Hundreds of calls through the test pool's SELF.fetch, which slows with every call a file makes (ARCHITECTURE.md,
    // the isolation tests): past a minute on a busy machine, so a longer limit than the default.
  }, 180_000);
});
