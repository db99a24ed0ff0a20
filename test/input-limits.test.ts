// The largest inputs each list-taking route allows, at ids of the longest allowed length,
// through the limits layer (test/limits/): a statement binding over 100 values, over 100 KB
// of SQL, or a value over 2 MB would be refused there and answer 500. Sizes around D1's
// 100 bound values are tried too, where a list could be bound value by value.
import { describe, expect, it } from "vitest";
import { LIMITS } from "../src/core/shared/validation";
import { call, claimsSettled, client, freshTenant, shardOf, shardOfBound, token } from "./helpers";

/** The i-th id of 128 characters, the longest an id may be. */
const longId = (prefix: string, i: number) => `${prefix}${"x".repeat(128 - prefix.length - 8)}-${String(i).padStart(7, "0")}`;
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => longId(prefix, i));
const MAX = LIMITS.idsPerCall;

async function count(sql: string, ...values: unknown[]) {
  return (await shardOfBound(values))
    .prepare(sql)
    .bind(...values)
    .first<number>("n");
}

async function seedUsers(tenant: string, prefix: string, n: number) {
  await (await shardOf(tenant))
    .prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1)
    INSERT INTO users (tenant_id, id, created_at, updated_at)
    SELECT ?1, ?3 || substr(?4, 1, 128 - length(?3) - 8) || '-' || substr('0000000' || i, -7), 0, 0 FROM n`)
    .bind(tenant, n, prefix, "x".repeat(128))
    .run();
}

async function seedGroups(tenant: string, prefix: string, n: number) {
  await (await shardOf(tenant))
    .prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1)
    INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at)
    SELECT ?1, ?3 || substr(?4, 1, 128 - length(?3) - 8) || '-' || substr('0000000' || i, -7), 'g ' || i, 'g ' || i, 0, 0 FROM n`)
    .bind(tenant, n, prefix, "x".repeat(128))
    .run();
}

describe("the largest inputs the API allows stay within D1's statement limits", () => {
  it("native members: add 1, 100, 101 and 1,000 long ids, replace 1,000, remove 1,000", async () => {
    const api = await client(freshTenant("maxin"), { scope: "admin" });
    const gid = (await api.post("/v1/groups", { name: "Max", description: "d".repeat(LIMITS.descriptionMax) })).json.result.group_id;
    let total = 0;
    for (const n of [1, 100, 101, MAX]) {
      const res = await api.post(`/v1/groups/${gid}/members`, { user_ids: ids(`a${n}-`, n) });
      expect(res.status, res.text).toBe(200);
      expect(res.json.result).toEqual({ added: n, already_members: 0 });
      total += n;
    }
    expect(await count("SELECT member_count AS n FROM groups WHERE tenant_id = ? AND id = ?", api.tenant, gid)).toBe(total);

    const replaced = await api.put(`/v1/groups/${gid}/members`, { user_ids: ids("r-", MAX) });
    expect(replaced.status, replaced.text).toBe(200);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = ?", api.tenant, gid)).toBe(MAX);

    const removed = await api.del(`/v1/groups/${gid}/members`, { user_ids: ids("r-", MAX) });
    expect(removed.status, removed.text).toBe(200);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = ?", api.tenant, gid)).toBe(0);
    await claimsSettled(api, [gid]);
  });

  it("hierarchy and roles: link 1,000 children, assign 100 roles to a group and to a user", async () => {
    const api = await client(freshTenant("maxin"), { scope: "admin" });
    const parent = (await api.post("/v1/groups", { name: "Parent" })).json.result.group_id;
    await seedGroups(api.tenant, "c-", MAX);
    const linked = await api.post(`/v1/groups/${parent}/children`, { group_ids: ids("c-", MAX) });
    expect(linked.status, linked.text).toBe(200);
    expect(await count("SELECT count(*) AS n FROM group_edges WHERE tenant_id = ? AND parent_id = ?", api.tenant, parent)).toBe(MAX);

    const roles: string[] = [];
    for (let i = 0; i < 100; i++)
      roles.push((await api.post("/v1/roles", { key: `k${i}`, name: `Role ${i}`, level: i })).json.result.role_id);
    expect((await api.post(`/v1/groups/${parent}/roles`, { role_ids: roles })).status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM group_roles WHERE tenant_id = ? AND group_id = ?", api.tenant, parent)).toBe(100);
    const user = longId("u-", 0);
    expect((await api.put(`/v1/users/${user}`, { name: "n".repeat(200) })).status).toBeLessThan(300);
    expect((await api.post(`/v1/users/${user}/roles`, { role_ids: roles })).status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM user_roles WHERE tenant_id = ? AND user_id = ?", api.tenant, user)).toBe(100);
  });

  it("group calls: 1,000 events over 100 long group ids (a request's most) and 1,000 long user ids, by the tracking API and by a Segment batch", async () => {
    const tenant = freshTenant("maxin");
    const tracker = await token({ tenant, scope: "group_api" });
    const events = ids("e-", MAX).map((userId, k) => ({
      user_id: userId,
      group_id: longId("g-", k % 100),
      timestamp: "2026-01-01T00:00:00Z",
      traits: { group_type: "Account", name: `Account ${k}`, note: "n".repeat(1_000) },
    }));
    const tracked = await call("POST", "/api/group", { token: tracker, body: events });
    expect(tracked.status, tracked.text).toBe(200);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE tenant_id = ?", tenant)).toBe(MAX);

    const batch = ids("su-", MAX).map((userId, k) => ({
      type: "group",
      userId,
      groupId: longId("s-", k % 100),
      traits: { plan: "p".repeat(200) },
    }));
    const segment = await call("POST", "/v1/batch", { token: tracker, body: { batch } });
    expect(segment.status, segment.text).toBe(200);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE tenant_id = ?", tenant)).toBe(2 * MAX);
    const admin = await client(tenant, { scope: "admin" });
    await claimsSettled(admin, [...ids("g-", 100), ...ids("s-", 100)]);
  });

  it("SCIM and the seed surfaces: 1,000 members per group write, 100 groups per bulkGet, the longest searches", async () => {
    const api = await client(freshTenant("maxin"), { scope: "admin" });
    const scim = await token({ tenant: api.tenant, scope: "scim" });
    await seedUsers(api.tenant, "sm-", MAX);
    await seedUsers(api.tenant, "sp-", MAX);
    const members = ids("sm-", MAX).map((value) => ({ value }));
    const created = await call("POST", "/scim/v2/Groups", {
      token: scim,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "SCIM max", members },
    });
    expect(created.status, created.text).toBe(201);
    const patched = await call("PATCH", `/scim/v2/Groups/${created.json.id}`, {
      token: scim,
      body: {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "add", path: "members", value: ids("sp-", MAX).map((value) => ({ value })) }],
      },
    });
    expect(patched.status, patched.text).toBeLessThan(300);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = ?", api.tenant, created.json.id)).toBe(
      2 * MAX,
    );
    const filter = `displayName co "${"z".repeat(1_000)}"`;
    const searched = await call("GET", `/scim/v2/Groups?filter=${encodeURIComponent(filter)}`, { token: scim });
    expect(searched.status, searched.text).toBe(200);
    expect(searched.json.totalResults).toBe(0);

    const fe = await client(api.tenant, { scope: "admin" });
    const gid = (await fe.post("/resources/groups/v1", { name: "FE max" })).json.id as string;
    const added = await fe.post(`/resources/groups/v1/${gid}/users`, { userIds: ids("fe-", MAX) });
    expect(added.status, added.text).toBeLessThan(300);
    expect(await count("SELECT member_count AS n FROM groups WHERE tenant_id = ? AND id = ?", api.tenant, gid)).toBe(MAX);
    await seedGroups(api.tenant, "b-", 100);
    const got = await fe.post("/resources/groups/v1/bulkGet", { groupsIds: ids("b-", 100) });
    expect(got.status, got.text).toBe(200);
    expect(got.json.groups).toHaveLength(100);

    const phones = Array.from({ length: MAX }, (_, i) => `+1415${String(i).padStart(7, "0")}`);
    const kaizala = await fe.post("/kaizala/v1/groups", { name: "k".repeat(200), welcomeMessage: "w".repeat(2_000), members: phones });
    expect(kaizala.status, kaizala.text).toBeLessThan(300);

    for (const path of [`/v1/groups?search=${"q".repeat(200)}`, `/v1/groups/${gid}/members?search=${"q".repeat(200)}`]) {
      const res = await api.get(path);
      expect(res.status, res.text).toBe(200);
      expect(res.json.result).toEqual([]);
    }
    await claimsSettled(api, [created.json.id, gid]);
  });
});
