import { describe, expect, it } from "vitest";
import { type Client, client, expectError, freshTenant, shardOf } from "./helpers";

async function seedRoles(admin: Client) {
  const ids: Record<string, string> = {};
  for (const [key, level] of [
    ["owner", 0],
    ["manager", 1],
    ["editor", 2],
    ["viewer", 3],
  ] as const) {
    const r = await admin.post("/v1/roles", { key, name: key[0]!.toUpperCase() + key.slice(1), level });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    ids[key] = r.json.result.role_id;
  }
  return ids;
}

async function setup() {
  const tenant = freshTenant("roles");
  const admin = await client(tenant, { scope: "admin" });
  const roles = await seedRoles(admin);
  const group = (await admin.post("/v1/groups", { name: "R&D" })).json.result.group_id as string;
  const as = (roleKeys: string[]) => client(tenant, { roles: roleKeys, sub: `caller-${roleKeys.join("-") || "none"}` });
  return { tenant, admin, roles, group, as };
}

const groupRoleKeys = async (c: Client, group: string) => (await c.get(`/v1/groups/${group}/roles`)).json.result.map((r: any) => r.key);
const memberIds = async (c: Client, group: string) => (await c.get(`/v1/groups/${group}/members`)).json.result.map((m: any) => m.user_id);

describe("roles (native API)", () => {
  it("creates, lists by level, reads, updates and deletes roles", async () => {
    const { admin, roles, group } = await setup();
    const list = await admin.get("/v1/roles");
    expect(list.status).toBe(200);
    expect(list.json.result.map((r: any) => [r.key, r.level])).toEqual([
      ["owner", 0],
      ["manager", 1],
      ["editor", 2],
      ["viewer", 3],
    ]);

    const patched = await admin.patch(`/v1/roles/${roles.viewer}`, { name: "Reader", level: 5 });
    expect(patched.status).toBe(200);
    expect(patched.json.result).toMatchObject({ role_id: roles.viewer, key: "viewer", name: "Reader", level: 5 });
    expect((await admin.get(`/v1/roles/${roles.viewer}`)).json.result.name).toBe("Reader");

    expect((await admin.post(`/v1/groups/${group}/roles`, { role_ids: [roles.viewer] })).status).toBe(200);
    expect((await admin.del(`/v1/roles/${roles.viewer}`)).status).toBe(204);
    expectError(await admin.get(`/v1/roles/${roles.viewer}`), 404, "not_found");
    expect(await groupRoleKeys(admin, group)).toEqual([]);
  });

  it("refuses a duplicate key, bad bodies, and role management without admin", async () => {
    const { admin, as } = await setup();
    expectError(await admin.post("/v1/roles", { key: "editor", name: "Again", level: 4 }), 409, "conflict");
    expectError(await admin.post("/v1/roles", { key: "x", name: "X", level: -1 }), 400, "invalid");
    expectError(await admin.post("/v1/roles", { key: "has space", name: "X", level: 1 }), 400, "invalid");
    const writer = await as(["owner"]);
    expectError(await writer.post("/v1/roles", { key: "new", name: "New", level: 9 }), 403, "forbidden");
    expect((await admin.get("/v1/roles")).json.result).toHaveLength(4);
  });

  it("rule 1: a caller assigns only roles lower than their own; equal is refused and nothing changes", async () => {
    const { roles, group, as, admin } = await setup();
    const manager = await as(["manager"]);
    expect((await manager.post(`/v1/groups/${group}/roles`, { role_ids: [roles.editor] })).json.result).toEqual({
      assigned: 1,
      already_assigned: 0,
    });

    for (const refused of [roles.manager, roles.owner]) {
      const r = await manager.post(`/v1/groups/${group}/roles`, { role_ids: [roles.viewer, refused] });
      expectError(r, 403, "forbidden");
      expect(r.json.error.message).toMatch(/only roles lower than their own/);
    }
    expect(await groupRoleKeys(admin, group)).toEqual(["editor"]);

    const nobody = await as([]);
    const r = await nobody.post(`/v1/groups/${group}/roles`, { role_ids: [roles.viewer] });
    expectError(r, 403, "forbidden");
    expect(r.json.error.message).toMatch(/hold no role/);

    // Taking a role away follows the same rule.
    expectError(await (await as(["editor"])).del(`/v1/groups/${group}/roles`, { role_ids: [roles.editor] }), 403, "forbidden");
    expect((await manager.del(`/v1/groups/${group}/roles`, { role_ids: [roles.editor] })).json.result).toEqual({
      removed: 1,
      not_assigned: 0,
    });
    expect(await groupRoleKeys(admin, group)).toEqual([]);
  });

  it("rule 2: only a caller higher than every role on the group adds or removes its users", async () => {
    const { roles, group, as, admin } = await setup();
    expect((await admin.post(`/v1/groups/${group}/roles`, { role_ids: [roles.editor, roles.viewer] })).status).toBe(200);

    for (const keys of [["editor"], ["viewer"], []]) {
      const c = await as(keys);
      const r = await c.post(`/v1/groups/${group}/members`, { user_ids: ["alice"] });
      expectError(r, 403, "forbidden");
      expect(r.json.error.message).toMatch(/higher than every role on group/);
      expectError(await c.put(`/v1/groups/${group}/members`, { user_ids: ["alice"] }), 403, "forbidden");
    }
    expect(await memberIds(admin, group)).toEqual([]);

    // The best of the caller's roles counts: editor + manager is a manager.
    const manager = await as(["editor", "manager"]);
    expect((await manager.post(`/v1/groups/${group}/members`, { user_ids: ["alice", "bob"] })).json.result.added).toBe(2);
    expectError(await (await as(["editor"])).del(`/v1/groups/${group}/members/alice`), 403, "forbidden");
    expect(await memberIds(admin, group)).toEqual(["alice", "bob"]);
    expect((await manager.del(`/v1/groups/${group}/members/alice`)).status).toBe(204);
    expect(await memberIds(admin, group)).toEqual(["bob"]);

    // A group without roles takes any writer's changes.
    const open = (await admin.post("/v1/groups", { name: "Open" })).json.result.group_id;
    expect((await (await as([])).post(`/v1/groups/${open}/members`, { user_ids: ["carol"] })).status).toBe(200);
  });

  it("a user's effective roles are their own plus those of their groups", async () => {
    const { roles, group, admin } = await setup();
    await admin.post(`/v1/groups/${group}/roles`, { role_ids: [roles.editor] });
    await admin.post(`/v1/groups/${group}/members`, { user_ids: ["alice"] });
    expect((await admin.post("/v1/users/alice/roles", { role_ids: [roles.viewer, roles.editor] })).json.result).toEqual({
      assigned: 2,
      already_assigned: 0,
    });

    const r = await admin.get("/v1/users/alice/roles");
    expect(r.status).toBe(200);
    expect(r.json.result.map((x: any) => ({ key: x.key, direct: x.direct, via_groups: x.via_groups }))).toEqual([
      { key: "editor", direct: true, via_groups: [group] },
      { key: "viewer", direct: true, via_groups: [] },
    ]);
    expect((await admin.del("/v1/users/alice/roles", { role_ids: [roles.editor] })).json.result).toEqual({ removed: 1, not_assigned: 0 });
    expect((await admin.get("/v1/users/alice/roles")).json.result.map((x: any) => [x.key, x.direct])).toEqual([
      ["editor", false],
      ["viewer", true],
    ]);
    expectError(await admin.get("/v1/users/nobody/roles"), 404, "not_found");
  });

  it("unknown and other tenants' role ids are 404 and change nothing", async () => {
    const { roles, group, admin } = await setup();
    const other = await setup();
    for (const ids of [["no-such-role"], [roles.editor, other.roles.editor]]) {
      const r = await admin.post(`/v1/groups/${group}/roles`, { role_ids: ids });
      expectError(r, 404, "not_found");
    }
    expect(await groupRoleKeys(admin, group)).toEqual([]);
    expectError(await admin.get(`/v1/roles/${other.roles.owner}`), 404, "not_found");
    expectError(await admin.post(`/v1/groups/${other.group}/roles`, { role_ids: [roles.editor] }), 404, "not_found");
    expectError(await admin.post(`/v1/groups/${group}/roles`, { role_ids: [] }), 400, "invalid");
  });

  it("with roles on groups disabled, group role changes answer 403", async () => {
    const { roles, group, admin } = await setup();
    expect((await admin.patch("/v1/config", { rolesOnGroupsEnabled: false })).status).toBe(200);
    const r = await admin.post(`/v1/groups/${group}/roles`, { role_ids: [roles.editor] });
    expectError(r, 403, "forbidden");
    expect(r.json.error.message).toMatch(/roles on groups are disabled/);
    const rows = await (await shardOf(admin.tenant))
      .prepare("SELECT count(*) AS n FROM group_roles WHERE tenant_id = ?")
      .bind(admin.tenant)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });
});
