// Group commit (core/members/flush.ts): changes that queue on a busy coordinator are applied
// together. Whatever the grouping, the outcome must be exactly the serial one: the final
// state, and every caller's answer, equal a replay of the audit log in the order of the
// coordinator's sequence numbers. The two 200-caller replays are in
// group-commit-replay-with-delete.test.ts and group-commit-replay-live-group.test.ts: each
// makes hundreds of calls, and the test pool's SELF.fetch slows with every call a file makes
// (cloudflare/workers-sdk#15446), so each starts on a fresh pool of its own.
import { describe, expect, it } from "vitest";
import { call, claimsSettled, client, expectError, freshTenant, shardOf, token } from "./helpers";

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
