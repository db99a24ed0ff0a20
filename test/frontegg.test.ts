import { describe, expect, it } from "vitest";
import { call, client, freshTenant, shardOf, token, vendorToken } from "./helpers";

const BASE = "/resources/groups";

function expectErrors(res: { status: number; json: any }, status: number, pattern?: RegExp) {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  expect(Array.isArray(res.json?.errors)).toBe(true);
  expect(typeof res.json.errors[0]).toBe("string");
  if (pattern) expect(res.json.errors.join(" | ")).toMatch(pattern);
}

async function groupCount(tenant: string) {
  const row = await (await shardOf(tenant))
    .prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?")
    .bind(tenant)
    .first<{ n: number }>();
  return row!.n;
}

describe("seed 001 groups surface", () => {
  it("creates a group that /v1 reads as the same group, and the reverse", async () => {
    const c = await client();
    const created = await c.post(`${BASE}/v1`, {
      name: "Acme Inc.",
      description: "Customers",
      color: "#3b82f6",
      metadata: '{"region":"EMEA"}',
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json).toMatchObject({
      name: "Acme Inc.",
      description: "Customers",
      color: "#3b82f6",
      metadata: '{"region":"EMEA"}',
      roles: [],
      users: [],
    });
    expect(new Date(created.json.createdAt).toISOString()).toBe(created.json.createdAt);

    const native = await c.get(`/v1/groups/${created.json.id}`);
    expect(native.json.result).toMatchObject({ group_id: created.json.id, name: "Acme Inc.", custom_data: { region: "EMEA" } });

    const made = (await c.post("/v1/groups", { name: "R&D", custom_data: { floor: 3 } })).json.result;
    await c.post(`/v1/groups/${made.group_id}/members`, { user_ids: ["alice"] });
    const read = await c.get(`${BASE}/v1/${made.group_id}`);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id: made.group_id, name: "R&D", metadata: '{"floor":3}', roles: [] });
    expect(read.json.users.map((u: any) => u.id)).toEqual(["alice"]);
  });

  it("lists all groups with their roles and users, and bulk-gets by id leaving unknown ids out", async () => {
    const c = await client(freshTenant(), { scope: "admin" });
    const a = (await c.post(`${BASE}/v1`, { name: "A" })).json.id;
    const b = (await c.post(`${BASE}/v1`, { name: "B" })).json.id;
    const role = (await c.post("/v1/roles", { key: "editor", name: "Editor", level: 2 })).json.result.role_id;
    expect((await c.post(`${BASE}/v1/${a}/roles`, { roleIds: [role] })).json).toEqual({ assigned: 1, alreadyAssigned: 0 });
    expect((await c.post(`${BASE}/v1/${a}/users`, { userIds: ["u1", "u2"] })).json).toEqual({ added: 2, alreadyMembers: 0 });

    const all = await c.get(`${BASE}/v1`);
    expect(all.status).toBe(200);
    expect(all.json.groups.map((g: any) => [g.name, g.roles.map((r: any) => r.key), g.users.map((u: any) => u.id)])).toEqual([
      ["A", ["editor"], ["u1", "u2"]],
      ["B", [], []],
    ]);

    const bulk = await c.post(`${BASE}/v1/bulkGet`, { groupsIds: [b, "no-such-group", a] });
    expect(bulk.status).toBe(200);
    expect(bulk.json.groups.map((g: any) => g.id)).toEqual([b, a]);

    expectErrors(await c.post(`${BASE}/v1/bulkGet`, { groupsIds: Array.from({ length: 101 }, (_, i) => `g${i}`) }), 400, /at most 100/);
    expectErrors(await c.post(`${BASE}/v1/bulkGet`, { groupIds: [a] }), 400);
  });

  it("updates and deletes, with errors in its own format", async () => {
    const c = await client();
    const id = (await c.post(`${BASE}/v1`, { name: "Old" })).json.id;
    const patched = await c.patch(`${BASE}/v1/${id}`, { name: "New", color: "#fff", metadata: '{"k":1}' });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id, name: "New", color: "#fff", metadata: '{"k":1}' });

    expectErrors(await c.patch(`${BASE}/v1/${id}`, { color: "blue" }), 400, /CSS hex colour/);
    expectErrors(await c.patch(`${BASE}/v1/${id}`, { metadata: "not json" }), 400, /JSON-encoded object/);
    expectErrors(await c.post(`${BASE}/v1`, { name: "new" }), 409, /already exists/);
    expectErrors(
      await call("POST", `${BASE}/v1`, { token: c.token, rawBody: "{oops", headers: { "content-type": "application/json" } }),
      400,
      /malformed JSON/,
    );
    expectErrors(await c.get(`${BASE}/v1/does-not-exist`), 404, /not found/);
    expectErrors(await call("GET", `${BASE}/v1`), 401, /missing credential/);
    expect((await c.get(`${BASE}/v1/${id}`)).json).toMatchObject({ name: "New", metadata: '{"k":1}' });

    expect((await c.del(`${BASE}/v1/${id}`)).status).toBe(200);
    expectErrors(await c.get(`${BASE}/v1/${id}`), 404);
    expect(await groupCount(c.tenant)).toBe(0);
  });

  it("reads and changes the groups configuration; with groups disabled the group endpoints answer 403", async () => {
    const admin = await client(freshTenant(), { scope: "admin" });
    const cfg = await admin.get(`${BASE}/v1/config`);
    expect(cfg.status).toBe(200);
    expect(cfg.json).toMatchObject({
      enabled: true,
      rolesEnabled: true,
      claim: { name: "groups", values: "names", includeInherited: true },
    });

    const writer = await client(admin.tenant);
    expectErrors(await writer.post(`${BASE}/v1/config`, { enabled: false }), 403);
    expectErrors(await admin.post(`${BASE}/v1/config`, { enabled: "no" }), 400);

    const off = await admin.post(`${BASE}/v1/config`, { enabled: false, claim: { name: "app_groups" } });
    expect(off.status).toBe(201);
    expect(off.json).toMatchObject({ enabled: false, rolesEnabled: true, claim: { name: "app_groups" } });
    for (const r of [await writer.get(`${BASE}/v1`), await writer.post(`${BASE}/v1`, { name: "X" }), await writer.get(`${BASE}/v2`)]) {
      expectErrors(r, 403, /groups are disabled/);
    }
    expect(await groupCount(admin.tenant)).toBe(0);
    expect((await admin.get("/v1/config")).json.result).toMatchObject({ groupsEnabled: false, claim: { name: "app_groups" } });

    await admin.post(`${BASE}/v1/config`, { enabled: true });
    expect((await writer.post(`${BASE}/v1`, { name: "X" })).status).toBe(201);
  });

  it("enforces both role rules on roles and users, answering 403 that names the rule", async () => {
    const tenant = freshTenant();
    const admin = await client(tenant, { scope: "admin" });
    const level = async (key: string, l: number) => (await admin.post("/v1/roles", { key, name: key, level: l })).json.result.role_id;
    const [manager, editor] = [await level("manager", 1), await level("editor", 2)];
    const group = (await admin.post(`${BASE}/v1`, { name: "G" })).json.id;

    const asEditor = await client(tenant, { roles: ["editor"] });
    const asManager = await client(tenant, { roles: ["manager"] });
    expectErrors(await asEditor.post(`${BASE}/v1/${group}/roles`, { roleIds: [editor] }), 403, /only roles lower than their own/);
    expect((await asManager.post(`${BASE}/v1/${group}/roles`, { roleIds: [editor] })).status).toBe(200);
    expectErrors(await asManager.post(`${BASE}/v1/${group}/roles`, { roleIds: [manager] }), 403, /only roles lower/);

    expectErrors(await asEditor.post(`${BASE}/v1/${group}/users`, { userIds: ["x"] }), 403, /higher than every role on group/);
    expect((await admin.get(`${BASE}/v1/${group}`)).json.users).toEqual([]);
    expect((await asManager.post(`${BASE}/v1/${group}/users`, { userIds: ["x", "y"] })).json).toEqual({ added: 2, alreadyMembers: 0 });
    expectErrors(await asEditor.del(`${BASE}/v1/${group}/users`, { userIds: ["x"] }), 403);
    expect((await asManager.del(`${BASE}/v1/${group}/users`, { userIds: ["x"] })).json).toEqual({
      removed: 1,
      notMembers: 0,
      stillMembers: [],
    });
    expect((await admin.get(`${BASE}/v1/${group}`)).json.users.map((u: any) => u.id)).toEqual(["y"]);
    expect((await admin.del(`${BASE}/v1/${group}/roles`, { roleIds: [editor] })).json).toEqual({ removed: 1, notAssigned: 0 });
  });

  it("pages 250 groups by _offset with the right totals, and loads relations only when asked", async () => {
    const c = await client();
    const names = Array.from({ length: 250 }, (_, i) => `group-${String(i).padStart(3, "0")}`);
    for (let i = 0; i < names.length; i += 25) {
      const made = await Promise.all(names.slice(i, i + 25).map((name) => c.post(`${BASE}/v1`, { name })));
      expect(made.every((r) => r.status === 201)).toBe(true);
    }
    const seen: string[] = [];
    for (const offset of [0, 100, 200]) {
      const page = await c.get(`${BASE}/v2?_limit=100&_offset=${offset}`);
      expect(page.status).toBe(200);
      expect(page.json._metadata).toEqual({ totalItems: 250, totalPages: 3 });
      expect(page.json.items).toHaveLength(offset === 200 ? 50 : 100);
      for (const g of page.json.items) {
        expect(g).not.toHaveProperty("roles");
        expect(g).not.toHaveProperty("users");
      }
      seen.push(...page.json.items.map((g: any) => g.name));
    }
    expect(seen).toEqual(names);
    expect((await c.get(`${BASE}/v2?_limit=100&_offset=300`)).json.items).toEqual([]);

    const desc = await c.get(`${BASE}/v2?_limit=3&_sortBy=name&_order=DESC&_groupsRelations=roles`);
    expect(desc.json.items.map((g: any) => g.name)).toEqual(["group-249", "group-248", "group-247"]);
    expect(desc.json.items[0].roles).toEqual([]);
    expect(desc.json.items[0]).not.toHaveProperty("users");
    const both = await c.get(`${BASE}/v2?_limit=1&_groupsRelations=rolesAndUsers`);
    expect(Object.keys(both.json.items[0])).toEqual(expect.arrayContaining(["roles", "users"]));

    expectErrors(await c.get(`${BASE}/v2?_limit=0`), 400);
    expectErrors(await c.get(`${BASE}/v2?_sortBy=colour`), 400);
    expectErrors(await c.get(`${BASE}/v2?_groupsRelations=everything`), 400);
  });

  it("keeps tenants apart; only a vendor token may name a tenant in frontegg-tenant-id; a tenant admin may not", async () => {
    const a = await client();
    const b = await client();
    const id = (await a.post(`${BASE}/v1`, { name: "Private" })).json.id;
    expectErrors(await b.get(`${BASE}/v1/${id}`), 404);
    expectErrors(await b.patch(`${BASE}/v1/${id}`, { name: "Stolen" }), 404);
    expectErrors(await b.post(`${BASE}/v1/${id}/users`, { userIds: ["mallory"] }), 404);
    expect((await b.post(`${BASE}/v1/bulkGet`, { groupsIds: [id] })).json.groups).toEqual([]);
    expect((await b.get(`${BASE}/v1`)).json.groups).toEqual([]);

    // A tenant's credential names another tenant: refused whatever its scopes, and nothing changes.
    const named = await call("GET", `${BASE}/v1/${id}`, { token: b.token, headers: { "frontegg-tenant-id": a.tenant } });
    expectErrors(named, 403, /only in its own tenant/);
    const bAdmin = await token({ tenant: b.tenant, scope: "admin" });
    expectErrors(
      await call("GET", `${BASE}/v1`, { token: bAdmin, headers: { "frontegg-tenant-id": a.tenant } }),
      403,
      /only in its own tenant/,
    );
    const planted = await call("POST", `${BASE}/v1`, {
      token: bAdmin,
      body: { name: "planted" },
      headers: { "frontegg-tenant-id": a.tenant },
    });
    expectErrors(planted, 403, /only in its own tenant/);
    expect(await groupCount(a.tenant)).toBe(1);
    // Naming its own tenant is fine.
    expect((await call("GET", `${BASE}/v1`, { token: bAdmin, headers: { "frontegg-tenant-id": b.tenant } })).status).toBe(200);

    // The operator's vendor token (its own issuer, audience and key) acts for the tenant it names.
    const vendor = await vendorToken({ scope: "admin" });
    const asVendor = await call("GET", `${BASE}/v1/${id}`, { token: vendor, headers: { "frontegg-tenant-id": a.tenant } });
    expect(asVendor.status).toBe(200);
    expect(asVendor.json.name).toBe("Private");
    const made = await call("POST", `${BASE}/v1`, {
      token: vendor,
      body: { name: "By vendor" },
      headers: { "frontegg-tenant-id": b.tenant },
    });
    expect(made.status).toBe(201);
    expect((await b.get(`/v1/groups/${made.json.id}`)).json.result.name).toBe("By vendor");
    // Without a tenant named, and on a surface with no tenant header, a vendor token acts nowhere.
    expectErrors(await call("GET", `${BASE}/v1`, { token: vendor }), 400, /must name the tenant/);
    const onNative = await call("GET", "/v1/groups", { token: vendor, headers: { "frontegg-tenant-id": a.tenant } });
    expect(onNative.status).toBe(403);
  });
});
