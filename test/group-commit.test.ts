// Group commit (core/members/flush.ts): changes that queue on a busy coordinator are applied
// together. Whatever the grouping, the outcome must be exactly the serial one: the final
// state, and every caller's answer, equal a replay of the audit log in the order of the
// coordinator's sequence numbers.
import { describe, expect, it } from "vitest";
import { call, claimsSettled, client, expectError, freshTenant, shardOf, token } from "./helpers";

/** A small seeded generator, so a failing mix can be run again. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

type Op =
  | { kind: "add"; ids: string[]; role: "member" | "admin" }
  | { kind: "remove"; ids: string[] }
  | { kind: "replace"; ids: string[] }
  | { kind: "role"; user: string; role: "member" | "admin" }
  | { kind: "delete" };

interface Caller {
  sub: string;
  /** "exempt": an admin-scope token; "boss": a role above the group's; "minion": a role not above it (refused). */
  who: "exempt" | "boss" | "minion";
  op: Op;
}

function mix(seed: number, callers: number): Caller[] {
  const r = rng(seed);
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

      const log = (
        await (
          await shardOf(t)
        )
          .prepare(
            "SELECT actor, action, seq, detail FROM audit_log WHERE tenant_id = ? AND target_type = 'group' AND target_id = ? AND seq IS NOT NULL ORDER BY seq",
          )
          .bind(t, g)
          .all<{ actor: string; action: string; seq: number; detail: string }>()
      ).results;
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
    // Hundreds of calls through the test pool's SELF.fetch, which slows with every call a file makes (ARCHITECTURE.md,
    // the isolation tests): past a minute on a busy machine, so a longer limit than the default.
  }, 180_000);

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
    const log = (
      await (
        await shardOf(admin.tenant)
      )
        .prepare(
          "SELECT actor, seq FROM audit_log WHERE tenant_id = ? AND target_type = 'group' AND target_id = ? AND seq IS NOT NULL ORDER BY seq",
        )
        .bind(admin.tenant, g)
        .all<{ actor: string; seq: number }>()
    ).results;
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
    // Hundreds of calls through the test pool's SELF.fetch, which slows with every call a file makes (ARCHITECTURE.md,
    // the isolation tests): past a minute on a busy machine, so a longer limit than the default.
  }, 180_000);
});

describe("group commit never mixes tenants", () => {
  it("tenant 'T:x' with group 'g' and tenant 'T' with group 'x:g' (ids may hold ':'): 50 concurrent adds each, every row in its own tenant", async () => {
    const victim = freshTenant("colon");
    const attacker = `${victim}:x`;
    for (const [tenant, group] of [
      [victim, "x:g"],
      [attacker, "g"],
    ] as const) {
      const tracker = await token({ tenant, scope: "group_api" });
      const created = await call("POST", "/api/group", {
        token: tracker,
        body: [
          {
            user_id: `${tenant === victim ? "v" : "a"}-first`,
            group_id: group,
            timestamp: "2026-01-01T00:00:00Z",
            traits: { group_type: "Team" },
          },
        ],
      });
      expect(created.status, created.text).toBe(200);
    }
    const [v, a] = await Promise.all([
      client(victim, { scope: "admin", sub: "victim-admin" }),
      client(attacker, { scope: "admin", sub: "attacker-admin" }),
    ]);
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0
          ? v.post(`/v1/groups/${encodeURIComponent("x:g")}/members`, { user_ids: [`v-${i}`] })
          : a.post("/v1/groups/g/members", { user_ids: [`a-${i}`] }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    const rows = async (tenant: string) =>
      (
        await (
          await shardOf(tenant)
        )
          .prepare("SELECT group_id, user_id FROM memberships WHERE tenant_id = ? ORDER BY user_id")
          .bind(tenant)
          .all<{
            group_id: string;
            user_id: string;
          }>()
      ).results;
    const victimRows = await rows(victim);
    const attackerRows = await rows(attacker);
    expect(victimRows).toHaveLength(51);
    expect(victimRows.every((r) => r.group_id === "x:g" && r.user_id.startsWith("v-"))).toBe(true);
    expect(attackerRows).toHaveLength(51);
    expect(attackerRows.every((r) => r.group_id === "g" && r.user_id.startsWith("a-"))).toBe(true);
    const audit = await (await shardOf(victim))
      .prepare("SELECT DISTINCT actor FROM audit_log WHERE tenant_id = ? AND action = 'members.add'")
      .bind(victim)
      .all();
    expect(audit.results.map((r) => r.actor)).not.toContain("attacker-admin");
    await claimsSettled(v, ["x:g"]);
    await claimsSettled(a, ["g"]);
  });
});

describe("group commit counts the limits across one flush", () => {
  it("30 concurrent single adds to a group that allows 10 members: exactly 10 join, 20 get 422, and the count is 10", async () => {
    const admin = await client(freshTenant("commit"), { scope: "admin" });
    await (await shardOf(admin.tenant))
      .prepare("INSERT INTO tenant_config (tenant_id, settings, updated_at) VALUES (?, ?, 0)")
      .bind(admin.tenant, JSON.stringify({ maxMembersPerGroup: 10 }))
      .run();
    const g = (await admin.post("/v1/groups", { name: "small" })).json.result.group_id as string;
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => admin.post(`/v1/groups/${g}/members`, { user_ids: [`s${i}`] })));
    const joined = answers.filter((a) => a.status === 200);
    expect(joined).toHaveLength(10);
    for (const a of joined) expect(a.json.result).toEqual({ added: 1, already_members: 0 });
    for (const a of answers.filter((x) => x.status !== 200)) expectError(a, 422, "limit_exceeded");
    expect(
      await (await shardOf(admin.tenant))
        .prepare("SELECT member_count AS n FROM groups WHERE tenant_id = ? AND id = ?")
        .bind(admin.tenant, g)
        .first("n"),
    ).toBe(10);
    expect(
      await (await shardOf(admin.tenant))
        .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = ?")
        .bind(admin.tenant, g)
        .first("n"),
    ).toBe(10);
    await claimsSettled(admin, [g]);
  });
});

describe("group commit records who brought each new user", () => {
  it("60 concurrent adds of new users by 60 callers, 20 of a known user: one user.created per new user, by its caller", async () => {
    const tenant = freshTenant("gc-users");
    const admin = await client(tenant, { scope: "admin" });
    const g = (await admin.post("/v1/groups", { name: "Everyone" })).json.result.group_id;
    await admin.put("/v1/users/known", { name: "Known" });
    const callers = await Promise.all(Array.from({ length: 80 }, (_, i) => client(tenant, { scope: "groups:write", sub: `caller-${i}` })));
    const answers = await Promise.all(
      callers.map((c, i) => c.post(`/v1/groups/${g}/members`, { user_ids: [i < 60 ? `new-${i}` : "known"] })),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const made = (await admin.get("/v1/events?types=user.created&limit=1000")).json.result as any[];
    const byUser = new Map<string, string[]>();
    for (const e of made) for (const u of e.user_ids) byUser.set(u, [...(byUser.get(u) ?? []), e.actor]);
    expect(byUser.get("known")).toEqual(["tester"]); // its own PUT, nothing from the adds
    for (let i = 0; i < 60; i++) expect(byUser.get(`new-${i}`), `new-${i}`).toEqual([`caller-${i}`]);
    expect(made.every((e) => e.source === "native")).toBe(true);
  });
});
