import { describe, expect, it } from "vitest";
import { callerOf, coordinatorOf, unwrap } from "../src/coordinator/client";
import { OWED_GRACE_MS, owedToken, sweepOwedRules } from "../src/core/rules";
import { noteGroupProgress, postpone, settleGroup, settleProfiles } from "../src/core/rules/owed";
import { Budget } from "../src/core/shared/budget";
import { database, tenantScope } from "../src/core/shared/context";
import { type Client, client, env, expectError, freshTenant, runCron, shardOf } from "./helpers";

async function salesTeam(): Promise<{ api: Client; group: string }> {
  const api = await client(freshTenant("owed"), { scope: "admin" });
  for (const [id, dept] of [
    ["ann", "sales"],
    ["bob", "eng"],
  ]) {
    expect((await api.put(`/v1/users/${id}`, { custom_data: { dept } })).status).toBe(201);
  }
  const group = (await api.post("/v1/groups", { name: "Sales" })).json.result.group_id as string;
  const rule = await api.put(`/v1/groups/${group}/rule`, { expression: 'custom_data.dept eq "sales"' });
  expect(rule.status, rule.text).toBe(201);
  return { api, group };
}

const memberIds = async (api: Client, group: string) =>
  ((await api.get(`/v1/groups/${group}/members`)).json.result as { user_id: string }[]).map((m) => m.user_id);

async function marks(tenant: string) {
  const db = await shardOf(tenant);
  const users = await db.prepare("SELECT id FROM users WHERE tenant_id = ? AND rules_owed IS NOT NULL ORDER BY id").bind(tenant).all();
  const groups = await db.prepare("SELECT id FROM groups WHERE tenant_id = ? AND rule_owed IS NOT NULL").bind(tenant).all();
  return { users: users.results.map((r) => r.id), groups: groups.results.map((r) => r.id) };
}

const longAgo = () => owedToken(Date.now() - OWED_GRACE_MS - 60_000);

describe("rule work a request owes", () => {
  it("leaves no mark once a request has done it, and sets none in a tenant without rules", async () => {
    const { api, group } = await salesTeam();
    expect((await api.patch("/v1/users/bob", { custom_data: { dept: "sales" } })).status).toBe(200);
    expect((await api.put("/v1/users/cy", { custom_data: { dept: "sales" } })).status).toBe(201);
    expect(await memberIds(api, group)).toEqual(["ann", "bob", "cy"]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });

    const plain = await client(freshTenant("owed-none"), { scope: "admin" });
    expect((await plain.put("/v1/users/dan", { custom_data: { dept: "sales" } })).status).toBe(201);
    const db = await shardOf(plain.tenant);
    const row = await db.prepare("SELECT rules_owed FROM users WHERE tenant_id = ? AND id = 'dan'").bind(plain.tenant).first();
    expect(row).toEqual({ rules_owed: null });
  });

  it("finishes a profile change's rule evaluation that its request never did, and not before the grace", async () => {
    const { api, group } = await salesTeam();
    expect(await memberIds(api, group)).toEqual(["ann"]);
    const db = await shardOf(api.tenant);
    // What a request cut off after its batch leaves: the profile changed, marked, no reconcile.
    const cutOff = (id: string, dept: string, token: number) =>
      db
        .prepare("UPDATE users SET custom_data = ?, rules_owed = ?, version = version + 1 WHERE tenant_id = ? AND id = ?")
        .bind(JSON.stringify({ dept }), token, api.tenant, id)
        .run();
    await cutOff("ann", "eng", longAgo());
    await cutOff("bob", "sales", owedToken()); // its request may still be running
    expect(await memberIds(api, group)).toEqual(["ann"]);

    await runCron();
    expect(await memberIds(api, group)).toEqual([]);
    expect(await marks(api.tenant)).toEqual({ users: ["bob"], groups: [] });
    const events = (await api.get(`/v1/events?types=group.members.removed&group_id=${group}`)).json.result;
    expect(events).toMatchObject([{ user_ids: ["ann"], source: "rule", actor: "system:rule-sweep" }]);
    expect((await api.get("/v1/users/ann/claims")).json.result.groups).toEqual([]);
  });

  it("finishes the reconcile of a rule set or dropped by a request cut off before it", async () => {
    const { api, group } = await salesTeam();
    const scope = await tenantScope(env, api.tenant, "ops");
    // The coordinator's own commit (rule and mark), without the reconcile the request would run next.
    await unwrap(coordinatorOf(scope, group).setRule(callerOf(scope, group), { expression: 'custom_data.dept eq "eng"', paused: false }));
    expect(await memberIds(api, group)).toEqual(["ann"]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [group] });
    const db = await shardOf(api.tenant);
    await db.prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?").bind(longAgo(), api.tenant, group).run();
    await runCron();
    expect(await memberIds(api, group)).toEqual(["bob"]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });

    await unwrap(coordinatorOf(scope, group).deleteRule(callerOf(scope, group)));
    expect(await memberIds(api, group)).toEqual(["bob"]);
    await db.prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?").bind(longAgo(), api.tenant, group).run();
    await runCron();
    expect(await memberIds(api, group)).toEqual([]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
    expect((await api.get(`/v1/groups/${group}`)).json.result.member_count).toBe(0);
  });

  it("postpones work that fails by another grace, so the marks behind it are not starved", async () => {
    const { api, group } = await salesTeam();
    const broken = (await api.post("/v1/groups", { name: "Broken" })).json.result.group_id as string;
    const db = await shardOf(api.tenant);
    // A rule that no longer compiles (written around the API) makes its group's reconcile fail.
    await db
      .prepare(
        "INSERT INTO group_rules (tenant_id, group_id, expression, paused, created_by, created_at, updated_at) VALUES (?, ?, 'email eq', 0, 'x', 0, 0)",
      )
      .bind(api.tenant, broken)
      .run();
    const old = longAgo();
    await db.prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?").bind(old, api.tenant, broken).run();
    await db
      .prepare("UPDATE group_rules SET expression = 'custom_data.dept eq \"eng\"' WHERE tenant_id = ? AND group_id = ?")
      .bind(api.tenant, group)
      .run();
    await db
      .prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?")
      .bind(old + 1, api.tenant, group)
      .run();

    const before = Date.now();
    await runCron();
    expect(await memberIds(api, group)).toEqual(["bob"]);
    const left = await db.prepare("SELECT id, rule_owed FROM groups WHERE tenant_id = ? AND rule_owed IS NOT NULL").bind(api.tenant).all();
    expect(left.results.map((r) => r.id)).toEqual([broken]);
    expect(left.results[0]!.rule_owed as number).toBeGreaterThanOrEqual(owedToken(before) - 1024);
    // Not due again within the grace.
    await runCron();
    expect(
      (await db.prepare("SELECT rule_owed FROM groups WHERE tenant_id = ? AND id = ?").bind(api.tenant, broken).first())!.rule_owed,
    ).toBe(left.results[0]!.rule_owed);
  });

  it("postpones a profile's failing evaluation too, and clears a mark only for the work that set it", async () => {
    const { api, group } = await salesTeam();
    const db = await shardOf(api.tenant);
    const old = longAgo();
    await db.prepare("UPDATE users SET rules_owed = ? WHERE tenant_id = ? AND id = 'ann'").bind(old, api.tenant).run();
    // A rule that no longer compiles (written around the API) makes every profile evaluation of the tenant fail.
    await db.prepare("UPDATE group_rules SET expression = 'email eq' WHERE tenant_id = ? AND group_id = ?").bind(api.tenant, group).run();
    const before = Date.now();
    await runCron();
    const postponed = (await db.prepare("SELECT rules_owed FROM users WHERE tenant_id = ? AND id = 'ann'").bind(api.tenant).first())!
      .rules_owed as number;
    expect(postponed).toBeGreaterThanOrEqual(owedToken(before) - 1024);

    // Work that finishes after a later change marked the user again leaves that later mark for its own work.
    await settleProfiles(database(db), api.tenant, [{ id: "ann", token: old }]);
    expect(await marks(api.tenant)).toEqual({ users: ["ann"], groups: [] });
    await settleProfiles(database(db), api.tenant, [{ id: "ann", token: postponed }]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
    await db
      .prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?")
      .bind(old + 7, api.tenant, group)
      .run();
    await settleGroup(database(db), api.tenant, group, old);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [group] });

    // A reconcile's progress is kept only while the mark is the one it worked for; a postponed mark keeps it (the
    // rule is the same); the settle clears it with the mark.
    const groupMark = () =>
      db
        .prepare("SELECT rule_owed AS token, rule_owed_after AS after FROM groups WHERE tenant_id = ? AND id = ?")
        .bind(api.tenant, group)
        .first<{
          token: number | null;
          after: string | null;
        }>();
    await noteGroupProgress(database(db), api.tenant, group, old, "u1");
    expect(await groupMark()).toEqual({ token: old + 7, after: null });
    await noteGroupProgress(database(db), api.tenant, group, old + 7, "u1");
    expect(await groupMark()).toEqual({ token: old + 7, after: "u1" });
    await postpone(database(db), "groups", api.tenant, [{ id: group, token: old + 7 }]);
    const later = (await groupMark())!;
    expect(later.token).toBeGreaterThan(old + 7);
    expect(later.after).toBe("u1");
    await settleGroup(database(db), api.tenant, group, later.token!);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
    expect(await groupMark()).toEqual({ token: null, after: null });
  });

  it("does a profile's owed work that needs more coordinator calls than one run covers over several runs, its mark kept until the last", async () => {
    const api = await client(freshTenant("owed-wide"), { scope: "admin" });
    expect((await api.put("/v1/users/ann", { custom_data: { dept: "eng" } })).status).toBe(201);
    const groups: string[] = [];
    for (let i = 0; i < 12; i++) {
      const group = (await api.post("/v1/groups", { name: `Sales ${i}` })).json.result.group_id as string;
      expect((await api.put(`/v1/groups/${group}/rule`, { expression: 'custom_data.dept eq "sales"' })).status).toBe(201);
      groups.push(group);
    }
    const db = await shardOf(api.tenant);
    // A request cut off after its batch: ann is now in sales, the twelve rules not yet evaluated for her.
    await db
      .prepare("UPDATE users SET custom_data = ?, rules_owed = ?, version = version + 1 WHERE tenant_id = ? AND id = 'ann'")
      .bind(JSON.stringify({ dept: "sales" }), longAgo(), api.tenant)
      .run();
    const joined = async () => (await Promise.all(groups.map((g) => memberIds(api, g)))).filter((ids) => ids.includes("ann")).length;
    // A budget of 11 leaves the unit 5 coordinator calls: OWED_UNIT_CALLS are kept for its other calls.
    const run = () => sweepOwedRules(env, database(db), Date.now(), new Budget(11));
    expect(await run()).toMatchObject({ profiles: 1, failed: 0, waiting: 1 });
    expect(await joined()).toBe(5);
    expect(await marks(api.tenant)).toEqual({ users: ["ann"], groups: [] });
    expect(await run()).toMatchObject({ waiting: 1 });
    expect(await joined()).toBe(10);
    expect(await run()).toMatchObject({ profiles: 1, failed: 0, waiting: 0 });
    expect(await joined()).toBe(12);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
  });

  it("keeps a group's owed reconcile marked when a run's budget cuts it short, goes on where it stopped, and clears it when done", async () => {
    const api = await client(freshTenant("owed-long"), { scope: "admin" });
    const group = (await api.post("/v1/groups", { name: "Sales" })).json.result.group_id as string;
    const db = await shardOf(api.tenant);
    // 75,001 users, the first and the last in sales: a reconcile walks them all, 25,000 a coordinator call.
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 75001)
         INSERT INTO users (tenant_id, id, email, email_key, created_at, updated_at)
         SELECT ?1, printf('u%05d', i), printf('u%05d@%s', i, CASE WHEN i IN (1, 75001) THEN 'sales.com' ELSE 'other.org' END),
                printf('u%05d@%s', i, CASE WHEN i IN (1, 75001) THEN 'sales.com' ELSE 'other.org' END), 0, 0 FROM n`,
      )
      .bind(api.tenant)
      .run();
    // A rule set by a request cut off before its reconcile: the rule and its mark, no member yet.
    await db.batch([
      db
        .prepare(
          "INSERT INTO group_rules (tenant_id, group_id, expression, paused, created_by, created_at, updated_at) VALUES (?, ?, ?, 0, 'test', 0, 0)",
        )
        .bind(api.tenant, group, 'email ew "@sales.com"'),
      db.prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?").bind(longAgo(), api.tenant, group),
    ]);
    const progress = async () =>
      (await db
        .prepare("SELECT rule_owed_after AS after FROM groups WHERE tenant_id = ? AND id = ?")
        .bind(api.tenant, group)
        .first("after")) as string | null;
    // A budget of 9 leaves the unit 3 coordinator calls (75,000 users): OWED_UNIT_CALLS are kept for its other calls.
    const run = (subrequests: number) => sweepOwedRules(env, database(db), Date.now(), new Budget(subrequests));
    expect(await run(9)).toMatchObject({ groups: 1, failed: 0, waiting: 1 });
    expect(await memberIds(api, group)).toEqual(["u00001"]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [group] });
    expect(await progress()).toBe("u75000");
    // The next run, as short, goes on after the last user the first one walked (starting over, it would be cut short again).
    expect(await run(9)).toMatchObject({ groups: 1, failed: 0, waiting: 0 });
    expect(await memberIds(api, group)).toEqual(["u00001", "u75001"]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
    expect(await progress()).toBe(null);
  });

  it("starts a group's owed reconcile over when its rule changes again, whatever an earlier one got through", async () => {
    const { api, group } = await salesTeam();
    const scope = await tenantScope(env, api.tenant, "ops");
    const db = await shardOf(api.tenant);
    // An owed reconcile that had got past every user before it was cut short...
    await db
      .prepare("UPDATE groups SET rule_owed = ?, rule_owed_after = 'zzz' WHERE tenant_id = ? AND id = ?")
      .bind(longAgo(), api.tenant, group)
      .run();
    // ...then the rule set again by a request cut off after the coordinator's commit: its mark starts from the first user.
    await unwrap(coordinatorOf(scope, group).setRule(callerOf(scope, group), { expression: 'custom_data.dept eq "eng"', paused: false }));
    const state = () =>
      db.prepare("SELECT rule_owed_after AS after FROM groups WHERE tenant_id = ? AND id = ?").bind(api.tenant, group).first();
    expect(await state()).toEqual({ after: null });
    await db.prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = ?").bind(longAgo(), api.tenant, group).run();
    await runCron();
    expect(await memberIds(api, group)).toEqual(["bob"]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
  });

  it("records nothing for a drop of a rule the group does not have", async () => {
    const api = await client(freshTenant("owed-404"), { scope: "admin" });
    const group = (await api.post("/v1/groups", { name: "No rule" })).json.result.group_id as string;
    expectError(await api.del(`/v1/groups/${group}/rule`), 404, "not_found");
    expect((await api.get("/v1/events")).json.result.map((e: { type: string }) => e.type)).toEqual(["group.created"]);
    expect((await api.get(`/v1/groups/${group}/audit`)).json.result).toEqual([]);
    expect(await marks(api.tenant)).toEqual({ users: [], groups: [] });
  });
});
