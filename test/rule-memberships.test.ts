// Rule-based memberships and provenance: a group's rule holds the users it selects with the
// "rule" source, beside the other sources (direct, scim, analytics); every list says which hold.
import { describe, expect, it } from "vitest";
import { putRule } from "../src/core/rules";
import { tenantScope } from "../src/core/shared/context";
import { countedEnv } from "../src/http/request-log";
import { type Client, call, client, env, expectError, freshTenant, scimUsers, shardOf } from "./helpers";

const PEOPLE: [string, Record<string, unknown>][] = [
  ["ann", { email: "ann@acme.com", custom_data: { department: "Sales" } }],
  ["bob", { email: "bob@acme.com", custom_data: { department: "R&D" } }],
  ["cy", { email: "cy@other.org", custom_data: { department: "Sales" } }],
  ["eve", { email: "Eve@Acme.com", custom_data: { department: "sales" } }],
];

async function tenantWithPeople(label = "rm"): Promise<Client> {
  const api = await client(freshTenant(label), { scope: "admin" });
  for (const [id, profile] of PEOPLE) expect((await api.put(`/v1/users/${id}`, profile)).status).toBe(201);
  return api;
}

async function group(api: Client, name: string): Promise<string> {
  const res = await api.post("/v1/groups", { name });
  expect(res.status, res.text).toBe(201);
  return res.json.result.group_id;
}

/** The group's members as user id → sources, read through the API. */
async function membersOf(api: Client, g: string): Promise<Record<string, string[]>> {
  const res = await api.get(`/v1/groups/${g}/members?limit=200`);
  expect(res.status, res.text).toBe(200);
  return Object.fromEntries((res.json.result as { user_id: string; sources: string[] }[]).map((m) => [m.user_id, m.sources]));
}

const memberCount = async (api: Client, g: string) => (await api.get(`/v1/groups/${g}`)).json.result.member_count as number;

/** What the rule selects, recomputed from scratch by the preview (every user id). */
async function selected(api: Client, expression: string): Promise<string[]> {
  const res = await api.post("/v1/rules/preview", { expression, limit: 100 });
  expect(res.status, res.text).toBe(200);
  return (res.json.result.users as { user_id: string }[]).map((u) => u.user_id);
}

const SALES = 'email ew "@acme.com" and custom_data.department eq "Sales"';

describe("a group's membership rule", () => {
  it("holds exactly the users its filter selects, says so in every list, and is read back", async () => {
    const api = await tenantWithPeople();
    const g = await group(api, "Acme sales");
    const put = await api.put(`/v1/groups/${g}/rule`, { expression: SALES });
    expect(put.status, put.text).toBe(201);
    expect(put.json.result).toMatchObject({
      group_id: g,
      expression: SALES,
      paused: false,
      reconciled: { added: 2, removed: 0, skipped: [] },
    });
    // Values compare case-insensitively, as in SCIM: eve's "sales" matches.
    expect(await membersOf(api, g)).toEqual({ ann: ["rule"], eve: ["rule"] });
    expect(Object.keys(await membersOf(api, g))).toEqual(await selected(api, SALES));
    expect(await memberCount(api, g)).toBe(2);
    const held = (await api.get("/v1/users/ann/groups")).json.result;
    expect(held.map((h: { group_id: string; sources: string[] }) => [h.group_id, h.sources])).toEqual([[g, ["rule"]]]);
    const transitive = (await api.get("/v1/users/ann/groups?transitive=true")).json.result;
    expect(transitive[0]).toMatchObject({ group_id: g, membership: "direct", sources: ["rule"] });
    const read = await api.get(`/v1/groups/${g}/rule`);
    expect(read.status).toBe(200);
    expect(read.json.result).toMatchObject({ group_id: g, expression: SALES, paused: false, created_by: "tester" });
    // Changing the expression reconciles: ann and eve leave, bob joins.
    const changed = await api.put(`/v1/groups/${g}/rule`, { expression: 'custom_data.department eq "R&D"' });
    expect(changed.status).toBe(200);
    expect(changed.json.result.reconciled).toEqual({ added: 1, removed: 2, skipped: [] });
    expect(await membersOf(api, g)).toEqual({ bob: ["rule"] });
    expect(await memberCount(api, g)).toBe(1);
    const events = (await api.get(`/v1/events?group_id=${g}`)).json.result as { type: string; source: string }[];
    expect(events.filter((e) => e.type === "group.rule.set")).toHaveLength(2);
    expect(events.filter((e) => e.type.startsWith("group.members.")).every((e) => e.source === "rule")).toBe(true);
  });

  it("holds the same users SCIM's user list gives for the same filter", async () => {
    const api = await client(freshTenant("rm-scim"), { scope: "admin" });
    await scimUsers(api.token, [
      ["ann", "ann@acme.com"],
      ["bob", "BOB@Acme.com"],
      ["cy", "cy@other.org"],
      ["dee", "dee@acme.com.evil"],
      ["eve", "eve@sub.acme.com"],
    ]);
    const g = await group(api, "Acme");
    expect((await api.put(`/v1/groups/${g}/rule`, { expression: 'email ew "acme.com"' })).status).toBe(201);
    const scim = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent('emails.value ew "acme.com"')}`, { token: api.token });
    expect(scim.status).toBe(200);
    const viaScim = (scim.json.Resources as { id: string }[]).map((r) => r.id).sort();
    expect(viaScim).toHaveLength(3);
    expect(Object.keys(await membersOf(api, g)).sort()).toEqual(viaScim);
  });

  it("moves a user in and out of every affected group before a profile change answers, on every profile path", async () => {
    const api = await tenantWithPeople();
    const sales = await group(api, "Sales");
    const acme = await group(api, "Acme");
    const rd = await group(api, "R&D");
    await api.put(`/v1/groups/${sales}/rule`, { expression: 'custom_data.department eq "Sales"' });
    await api.put(`/v1/groups/${acme}/rule`, { expression: 'email ew "@acme.com"' });
    await api.put(`/v1/groups/${rd}/rule`, { expression: 'custom_data.department eq "R&D"' });
    const groupsOf = async (u: string) =>
      ((await api.get(`/v1/users/${u}/groups`)).json.result as { group_id: string }[]).map((h) => h.group_id).sort();
    expect(await groupsOf("cy")).toEqual([sales]);
    // PATCH: cy moves to R&D at acme.
    expect((await api.patch("/v1/users/cy", { email: "cy@acme.com", custom_data: { department: "R&D" } })).status).toBe(200);
    expect(await groupsOf("cy")).toEqual([acme, rd].sort());
    // PUT replaces the profile: cy is nobody's now.
    expect((await api.put("/v1/users/cy", { name: "Cy" })).status).toBe(200);
    expect(await groupsOf("cy")).toEqual([]);
    // A new user through PUT and one through SCIM join at once.
    expect((await api.put("/v1/users/dan", { email: "dan@acme.com" })).status).toBe(201);
    expect(await groupsOf("dan")).toEqual([acme]);
    const scim = await call("POST", "/scim/v2/Users", {
      token: api.token,
      body: {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName: "fay",
        emails: [{ value: "fay@acme.com", primary: true }],
      },
    });
    expect(scim.status, scim.text).toBe(201);
    expect(await groupsOf(scim.json.id)).toEqual([acme]);
    // Deleting a user takes every membership, and the counts follow.
    expect((await api.del("/v1/users/dan")).status).toBe(204);
    expect(await memberCount(api, acme)).toBe(Object.keys(await membersOf(api, acme)).length);
    expect(Object.keys(await membersOf(api, acme)).sort()).toEqual((await selected(api, 'email ew "@acme.com"')).sort());
  });

  it("keeps a user held by the rule and directly through the removal of either source", async () => {
    const api = await tenantWithPeople();
    const g = await group(api, "Both");
    await api.put(`/v1/groups/${g}/rule`, { expression: SALES });
    expect((await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann", "bob"] })).json.result).toEqual({ added: 1, already_members: 1 });
    expect(await membersOf(api, g)).toEqual({ ann: ["direct", "rule"], bob: ["direct"], eve: ["rule"] });
    // Seed 001's groups carry their users with the sources too.
    const seed = await api.get(`/resources/groups/v2?_limit=10&_groupsRelations=users`);
    const users = (seed.json.items as { id: string; users: { id: string; sources: string[] }[] }[]).find((i) => i.id === g)!.users;
    expect(users.map((u) => [u.id, u.sources])).toEqual([
      ["ann", ["direct", "rule"]],
      ["bob", ["direct"]],
      ["eve", ["rule"]],
    ]);
    // Removing directly removes the direct source only; the answer says what still holds.
    const kept = await api.del(`/v1/groups/${g}/members/ann`);
    expect(kept.status).toBe(200);
    expect(kept.json.result).toEqual({ user_id: "ann", sources: ["rule"] });
    const bulk = await api.del(`/v1/groups/${g}/members`, { user_ids: ["eve", "bob", "cy"] });
    expect(bulk.json.result).toEqual({ removed: 1, not_members: 1, still_members: [{ user_id: "eve", sources: ["rule"] }] });
    expect(await membersOf(api, g)).toEqual({ ann: ["rule"], eve: ["rule"] });
    // Held directly again, ann stays when the rule lets go of her; eve, held by the rule only, leaves.
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"] });
    expect((await api.patch("/v1/users/ann", { custom_data: { department: "R&D" } })).status).toBe(200);
    const dropped = await api.del(`/v1/groups/${g}/rule`);
    expect(dropped.json.result).toEqual({ added: 0, removed: 1, skipped: [] });
    expect(await membersOf(api, g)).toEqual({ ann: ["direct"] });
    expect(await memberCount(api, g)).toBe(1);
    expectError(await api.get(`/v1/groups/${g}/rule`), 404, "not_found");
    // A native replace manages the direct source only, and a SCIM remove the SCIM source only.
    await api.put(`/v1/groups/${g}/rule`, { expression: 'user_id eq "cy"' });
    const replaced = await api.put(`/v1/groups/${g}/members`, { user_ids: ["bob"] });
    expect(replaced.json.result).toEqual({ added: 1, removed: 1, member_count: 2 });
    expect(await membersOf(api, g)).toEqual({ bob: ["direct"], cy: ["rule"] });
  });

  it("pauses: a paused rule keeps its members and follows no profile change until unpaused", async () => {
    const api = await tenantWithPeople();
    const g = await group(api, "Paused");
    await api.put(`/v1/groups/${g}/rule`, { expression: SALES });
    const paused = await api.put(`/v1/groups/${g}/rule`, { expression: SALES, paused: true });
    expect(paused.json.result).toMatchObject({ paused: true, reconciled: { added: 0, removed: 0 } });
    await api.patch("/v1/users/ann", { custom_data: { department: "R&D" } });
    await api.patch("/v1/users/bob", { custom_data: { department: "Sales" } });
    expect(Object.keys(await membersOf(api, g))).toEqual(["ann", "eve"]);
    const resumed = await api.put(`/v1/groups/${g}/rule`, { expression: SALES });
    expect(resumed.json.result.reconciled).toEqual({ added: 1, removed: 1, skipped: [] });
    expect(Object.keys(await membersOf(api, g))).toEqual(["bob", "eve"]);
  });

  it("reconciles a tenant of 2,500 users in steps, counts exact", async () => {
    const api = await client(freshTenant("rm-big"), { scope: "admin" });
    await (await shardOf(api.tenant))
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
       INSERT INTO users (tenant_id, id, email, email_key, custom_data, created_at, updated_at)
       SELECT ?, printf('u%05d', i), printf('u%05d@acme.com', i), printf('u%05d@acme.com', i),
              json_object('tier', CASE WHEN i % 5 = 0 THEN 'gold' ELSE 'basic' END), 0, 0 FROM n`,
      )
      .bind(api.tenant)
      .run();
    const g = await group(api, "Everyone at acme");
    const put = await api.put(`/v1/groups/${g}/rule`, { expression: 'email ew "@acme.com"' });
    expect(put.json.result.reconciled).toEqual({ added: 2500, removed: 0, skipped: [] });
    expect(await memberCount(api, g)).toBe(2500);
    const narrowed = await api.put(`/v1/groups/${g}/rule`, { expression: 'custom_data.tier eq "gold"' });
    expect(narrowed.json.result.reconciled).toEqual({ added: 0, removed: 2000, skipped: [] });
    expect(await memberCount(api, g)).toBe(500);
    const stored = await (await shardOf(api.tenant))
      .prepare("SELECT count(*) AS n, min(sources) AS lo, max(sources) AS hi FROM memberships WHERE tenant_id = ? AND group_id = ?")
      .bind(api.tenant, g)
      .first<{ n: number; lo: number; hi: number }>();
    expect(stored).toEqual({ n: 500, lo: 8, hi: 8 });
    // What the caller spends: setting the rule, then one coordinator call that takes all three ranges of 1,000 users
    // (RULE_LIMITS.rangesPerCall to a call), so a tenant of a million users costs a request 40 calls, not 1,000.
    const calls = { d1: 0, kv: 0, durableObjects: 0, queues: 0 };
    const widened = await putRule(await tenantScope(countedEnv(env, calls), api.tenant, "test"), g, {
      expression: 'email ew "@acme.com"',
      paused: false,
    });
    expect(widened.reconciled).toEqual({ added: 2000, removed: 0, skipped: [] });
    expect(calls.durableObjects).toBe(2);
    expect(await memberCount(api, g)).toBe(2500);
  });

  it("ends consistent under concurrent profile changes and rule edits", async () => {
    const api = await tenantWithPeople();
    const g = await group(api, "Raced");
    await api.put(`/v1/groups/${g}/rule`, { expression: 'custom_data.department eq "Sales"' });
    const departments = ["Sales", "R&D", "Ops"];
    await Promise.all([
      ...Array.from({ length: 24 }, (_, i) =>
        api.patch(`/v1/users/${PEOPLE[i % 4]![0]}`, { custom_data: { department: departments[i % 3] } }),
      ),
      api.put(`/v1/groups/${g}/rule`, { expression: 'custom_data.department eq "R&D"' }),
      api.put(`/v1/groups/${g}/rule`, { expression: 'custom_data.department ne "Ops"' }),
    ]);
    const rule = (await api.get(`/v1/groups/${g}/rule`)).json.result.expression;
    expect(Object.keys(await membersOf(api, g))).toEqual(await selected(api, rule));
    expect(await memberCount(api, g)).toBe((await selected(api, rule)).length);
  });

  it("refuses bad rules with a clear error and changes nothing", async () => {
    const api = await tenantWithPeople();
    const g = await group(api, "Guarded");
    for (const body of [{ expression: 'title eq "x"' }, { expression: "" }, { expression: 7 }, { expression: "user_id pr", extra: 1 }]) {
      expectError(await api.put(`/v1/groups/${g}/rule`, body), 400, "invalid");
    }
    const malformed = await call("PUT", `/v1/groups/${g}/rule`, {
      token: api.token,
      rawBody: "{",
      headers: { "content-type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expectError(await api.put("/v1/groups/nope/rule", { expression: "user_id pr" }), 404, "not_found");
    expectError(await api.get(`/v1/groups/${g}/rule`), 404, "not_found");
    expectError(await api.del(`/v1/groups/${g}/rule`), 404, "not_found");
    const reader = await client(api.tenant, { scope: "groups:read" });
    expectError(await reader.put(`/v1/groups/${g}/rule`, { expression: "user_id pr" }), 403, "forbidden");
    expectError(await reader.del(`/v1/groups/${g}/rule`), 403, "forbidden");
    // A group an identity provider manages through SCIM: 409 saying why.
    const pushed = await call("POST", "/scim/v2/Groups", {
      token: api.token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Pushed", externalId: "ext-1" },
    });
    expect(pushed.status, pushed.text).toBe(201);
    const refused = await api.put(`/v1/groups/${pushed.json.id}/rule`, { expression: "user_id pr" });
    expectError(refused, 409, "conflict");
    expect(refused.json.error.message).toMatch(/SCIM/);
    // Another tenant's group is unknown here.
    const other = await client(freshTenant("rm-other"), { scope: "admin" });
    expectError(await other.put(`/v1/groups/${g}/rule`, { expression: "user_id pr" }), 404, "not_found");
    expectError(await other.get(`/v1/groups/${g}/rule`), 404, "not_found");
    expect(await membersOf(api, g)).toEqual({});
    const rules = await (await shardOf(api.tenant))
      .prepare("SELECT count(*) AS n FROM group_rules WHERE tenant_id IN (?, ?)")
      .bind(api.tenant, other.tenant)
      .first<{ n: number }>();
    expect(rules!.n).toBe(0);
  });

  it("keeps a profile change whole when a rule's group is full: the user is left out, the change answers 200", async () => {
    const api = await tenantWithPeople("rm-full");
    const g = await group(api, "Small");
    expect((await api.patch("/v1/config", { maxMembersPerGroup: 2 })).status).toBe(200);
    // Three match: refused before anything changes.
    expectError(await api.put(`/v1/groups/${g}/rule`, { expression: 'email ew "@acme.com"' }), 422, "limit_exceeded");
    expect((await api.get(`/v1/groups/${g}/rule`)).status).toBe(404);
    await api.put(`/v1/groups/${g}/rule`, { expression: SALES });
    expect(Object.keys(await membersOf(api, g))).toEqual(["ann", "eve"]);
    const moved = await api.patch("/v1/users/bob", { custom_data: { department: "Sales" } });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json.result.custom_data).toEqual({ department: "Sales" });
    expect(Object.keys(await membersOf(api, g))).toEqual(["ann", "eve"]);
    expect(await memberCount(api, g)).toBe(2);
  });

  it("allows 500 rules a tenant, refuses the 501st with 422, and evaluates all 500 on every profile change", async () => {
    const api = await client(freshTenant("rm-500"), { scope: "admin" });
    const now = Date.now();
    // 500 groups and their rules, arranged in D1 (through the API this takes minutes).
    await (await shardOf(api.tenant)).batch([
      (await shardOf(api.tenant))
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
         INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at) SELECT ?, 'g' || i, 'G' || i, 'g' || i, ?, ? FROM n`,
        )
        .bind(api.tenant, now, now),
      (await shardOf(api.tenant))
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
         INSERT INTO group_rules (tenant_id, group_id, expression, created_by, created_at, updated_at)
         SELECT ?, 'g' || i, 'custom_data.n eq ' || i || CASE WHEN i % 10 = 0 THEN ' or custom_data.tens eq true' ELSE '' END,
                'arranged', ?, ? FROM n`,
        )
        .bind(api.tenant, now, now),
    ]);
    // One rule at the most values an expression may compare (80, in 79 OR'ed terms: its condition is about 80 levels deep).
    const deep = [...Array.from({ length: 78 }, (_, i) => `user_id eq "n${i}"`), "custom_data.n eq 1079"].join(" or ");
    expect((await api.post("/v1/rules/preview", { expression: deep })).status).toBe(200);
    await (await shardOf(api.tenant))
      .prepare("UPDATE group_rules SET expression = ? WHERE tenant_id = ? AND group_id = 'g1'")
      .bind(deep, api.tenant)
      .run();
    const extra = await group(api, "Over");
    expectError(await api.put(`/v1/groups/${extra}/rule`, { expression: "user_id pr" }), 422, "limit_exceeded");
    expect((await api.put("/v1/users/zed", { custom_data: { n: 7 } })).status).toBe(201);
    const held = async () =>
      ((await api.get("/v1/users/zed/groups?limit=200")).json.result as { group_id: string }[]).map((h) => h.group_id);
    expect(await held()).toEqual(["g7"]);
    // Into g7 and the 50 groups whose rule also takes "tens", out again: every rule looked at on each change.
    expect((await api.patch("/v1/users/zed", { custom_data: { n: 7, tens: true } })).status).toBe(200);
    const all = await (await shardOf(api.tenant))
      .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND user_id = 'zed' AND sources = 8")
      .bind(api.tenant)
      .first<{ n: number }>();
    expect(all!.n).toBe(51);
    expect((await held()).length).toBe(51);
    expect((await api.patch("/v1/users/zed", { custom_data: { n: 499 } })).status).toBe(200);
    expect(await held()).toEqual(["g499"]);
    expect((await api.patch("/v1/users/zed", { custom_data: { n: 1_079 } })).status).toBe(200);
    expect(await held()).toEqual(["g1"]);
  });
});
