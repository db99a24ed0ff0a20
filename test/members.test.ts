import { describe, expect, it } from "vitest";
import { type Client, call, client, eventually, expectError, shardOf } from "./helpers";

async function newGroup(api: Client, name = "Team") {
  const res = await api.post("/v1/groups", { name });
  expect(res.status).toBe(201);
  return res.json.result.group_id as string;
}

const memberIds = async (tenant: string, groupId: string) =>
  (
    await (
      await shardOf(tenant)
    )
      .prepare("SELECT user_id FROM memberships WHERE tenant_id = ? AND group_id = ? ORDER BY user_id")
      .bind(tenant, groupId)
      .all<{ user_id: string }>()
  ).results.map((r) => r.user_id);
const memberCount = async (tenant: string, groupId: string) =>
  (await shardOf(tenant))
    .prepare("SELECT member_count FROM groups WHERE tenant_id = ? AND id = ?")
    .bind(tenant, groupId)
    .first<number>("member_count");

describe("members", () => {
  it("adds users, folding duplicates, and says what changed", async () => {
    const api = await client();
    const g = await newGroup(api);
    const first = await api.post(`/v1/groups/${g}/members`, { user_ids: ["alice", "bob", "alice"] });
    expect(first.status).toBe(200);
    expect(first.json.result).toEqual({ added: 2, already_members: 0 });
    const second = await api.post(`/v1/groups/${g}/members`, { user_ids: ["bob", "carol", "dave", "erin"] });
    expect(second.json.result).toEqual({ added: 3, already_members: 1 });
    expect(await memberIds(api.tenant, g)).toEqual(["alice", "bob", "carol", "dave", "erin"]);
    expect(await memberCount(api.tenant, g)).toBe(5);
    // unknown ids got bare profiles
    const alice = await api.get("/v1/users/alice");
    expect(alice.status).toBe(200);
    expect(alice.json.result).toMatchObject({ user_id: "alice", email: null, custom_data: {} });
  });

  it("lists members with their whole profiles, paged", async () => {
    const api = await client();
    const g = await newGroup(api);
    await api.put("/v1/users/u01", { email: "u01@example.com", name: "User One" });
    const ids = Array.from({ length: 25 }, (_, i) => `u${String(i).padStart(2, "0")}`);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ids });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api.get(`/v1/groups/${g}/members?limit=10${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...res.json.result.map((u: { user_id: string }) => u.user_id));
      if (!cursor) expect(res.json.result[1]).toMatchObject({ user_id: "u01", email: "u01@example.com", name: "User One", role: "member" });
      cursor = res.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
  });

  it("lists a user's groups in the seed's shape", async () => {
    const api = await client();
    const a = await newGroup(api, "FC Barcelona fans");
    const b = await newGroup(api, "R&D");
    await api.post(`/v1/groups/${a}/members`, { user_ids: ["alice"] });
    await api.post(`/v1/groups/${b}/members`, { user_ids: ["alice"], role: "admin" });
    const res = await api.get("/v1/users/alice/groups");
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.json.result.map((g: { name: string }) => [g.name, g]));
    expect(Object.keys(byName).sort()).toEqual(["FC Barcelona fans", "R&D"]);
    expect(byName["R&D"]).toMatchObject({ group_id: b, role: "admin", custom_data: {} });
    for (const key of ["group_id", "name", "description", "created_at", "updated_at", "custom_data"]) {
      expect(byName["FC Barcelona fans"]).toHaveProperty(key);
    }
  });

  it("removes users in bulk and one by one", async () => {
    const api = await client();
    const g = await newGroup(api);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["a", "b", "c"] });
    const bulk = await api.del(`/v1/groups/${g}/members`, { user_ids: ["a", "b", "zed"] });
    expect(bulk.json.result).toEqual({ removed: 2, not_members: 1, still_members: [] });
    expect((await api.del(`/v1/groups/${g}/members/c`)).status).toBe(204);
    expectError(await api.del(`/v1/groups/${g}/members/c`), 404, "not_found");
    expect(await memberIds(api.tenant, g)).toEqual([]);
    expect(await memberCount(api.tenant, g)).toBe(0);
  });

  it("replaces the whole member set with PUT, refreshing the claims of those who left", async () => {
    const api = await client();
    const g = await newGroup(api, "Replaced");
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["a", "b", "c"] });
    const res = await api.put(`/v1/groups/${g}/members`, { user_ids: ["c", "d", "d"] });
    expect(res.status).toBe(200);
    expect(res.json.result).toEqual({ added: 1, removed: 2, member_count: 2 });
    expect(await memberIds(api.tenant, g)).toEqual(["c", "d"]);
    expect(await memberCount(api.tenant, g)).toBe(2);
    await eventually(async () => JSON.stringify((await api.get("/v1/users/a/claims")).json.result) === '{"groups":[]}');
    await eventually(async () => JSON.stringify((await api.get("/v1/users/d/claims")).json.result) === '{"groups":["Replaced"]}');
  });

  it("changes a member's role", async () => {
    const api = await client();
    const g = await newGroup(api);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["a"] });
    expect((await api.patch(`/v1/groups/${g}/members/a`, { role: "admin" })).status).toBe(204);
    const role = await (await shardOf(api.tenant))
      .prepare("SELECT role FROM memberships WHERE tenant_id = ? AND group_id = ? AND user_id = 'a'")
      .bind(api.tenant, g)
      .first("role");
    expect(role).toBe("admin");
    expectError(await api.patch(`/v1/groups/${g}/members/nobody`, { role: "admin" }), 404, "not_found");
    expectError(await api.patch(`/v1/groups/${g}/members/a`, { role: "owner" }), 400, "invalid");
  });

  it("reads one member (is this user in this group, directly or below it?), 404 for a user not in it or an unknown group", async () => {
    const api = await client(undefined, { scope: "groups:read groups:write" });
    const g = await newGroup(api);
    const child = await newGroup(api, "Child");
    await api.put("/v1/users/ann", { email: "ann@example.com", name: "Ann" });
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"], role: "admin", expires_at: Math.floor(Date.now() / 1000) + 3600 });
    await api.post(`/v1/groups/${child}/members`, { user_ids: ["kid"] });
    await api.post(`/v1/groups/${g}/children`, { group_ids: [child] });

    const read = await api.get(`/v1/groups/${g}/members/ann`);
    expect(read.status).toBe(200);
    const listed = (await api.get(`/v1/groups/${g}/members`)).json.result.find((m: { user_id: string }) => m.user_id === "ann");
    expect(read.json.result).toEqual(listed);
    expect(read.json.result).toMatchObject({ user_id: "ann", email: "ann@example.com", role: "admin", sources: ["direct"] });
    expect(read.json.result.expires_at).toBeGreaterThan(Date.now() / 1000);
    // Its tag carries the group's version: If-Match on a change of this member, If-None-Match on the read.
    const etag = read.headers.get("etag")!;
    expect(etag).toMatch(/^W\/"2-[0-9a-f]+"$/);
    expect((await call("GET", `/v1/groups/${g}/members/ann`, { token: api.token, headers: { "if-none-match": etag } })).status).toBe(304);
    const patched = await call("PATCH", `/v1/groups/${g}/members/ann`, {
      token: api.token,
      body: { role: "member" },
      headers: { "if-match": etag },
    });
    expect(patched.status).toBe(204);
    expect((await api.get(`/v1/groups/${g}/members/ann`)).json.result.role).toBe("member");

    const notIn = await api.get(`/v1/groups/${g}/members/kid`); // held only through the child group
    expectError(notIn, 404, "not_found");
    expect(notIn.json.error.message).toBe(`user 'kid' is not a member of group '${g}'`);
    // transitive=true: in the group or any group below it.
    const inherited = await api.get(`/v1/groups/${g}/members/kid?transitive=true`);
    expect(inherited.status).toBe(200);
    expect(inherited.json.result).toMatchObject({ user_id: "kid", direct: false, sources: [] });
    expect((await api.get(`/v1/groups/${g}/members/ann?transitive=true`)).json.result).toMatchObject({
      user_id: "ann",
      email: "ann@example.com",
      direct: true,
      sources: ["direct"],
    });
    expect((await api.get(`/v1/groups/${child}/members/ann?transitive=true`)).json.error.message).toBe(
      `user 'ann' is not in group '${child}' or any group below it`,
    );
    expectError(await api.get(`/v1/groups/nope/members/kid?transitive=true`), 404, "not_found");
    expectError(await api.get(`/v1/groups/${g}/members/kid?transitive=maybe`), 400, "invalid");
    await api.del(`/v1/groups/${g}/children`, { group_ids: [child] });
    expectError(await api.get(`/v1/groups/${g}/members/kid?transitive=true`), 404, "not_found");
    expectError(await api.get(`/v1/groups/${g}/members/nobody`), 404, "not_found");
    expect((await api.get("/v1/groups/nope/members/ann")).json.error.message).toBe("group 'nope' was not found");
    expectError(await api.get(`/v1/groups/${g}/members/a%20b`), 400, "invalid");
    expect((await api.del(`/v1/groups/${g}/members/ann`)).status).toBe(204);
    expectError(await api.get(`/v1/groups/${g}/members/ann`), 404, "not_found");
  });

  it("rejects bad member lists with 400 and changes nothing", async () => {
    const api = await client();
    const g = await newGroup(api);
    expectError(await api.post(`/v1/groups/${g}/members`, { user_ids: [] }), 400, "invalid");
    expectError(await api.post(`/v1/groups/${g}/members`, { user_ids: "alice" }), 400, "invalid");
    expectError(await api.post(`/v1/groups/${g}/members`, { user_ids: ["ok", "bad id"] }), 400, "invalid");
    const tooMany = Array.from({ length: 1001 }, (_, i) => `u${i}`);
    expectError(await api.post(`/v1/groups/${g}/members`, { user_ids: tooMany }), 400, "invalid");
    expect(await memberIds(api.tenant, g)).toEqual([]);
    // 1,000 is allowed
    const res = await api.post(`/v1/groups/${g}/members`, { user_ids: tooMany.slice(0, 1000) });
    expect(res.json.result).toEqual({ added: 1000, already_members: 0 });
    expect(await memberCount(api.tenant, g)).toBe(1000);
  });

  it("answers 404 for members of an unknown group and stores nothing", async () => {
    const api = await client();
    expectError(await api.post("/v1/groups/ffffffffffffffff/members", { user_ids: ["a"] }), 404, "not_found");
    expectError(await api.get("/v1/groups/ffffffffffffffff/members"), 404, "not_found");
    expectError(await api.get("/v1/users/nobody/groups"), 404, "not_found");
    const n = await (await shardOf(api.tenant)).prepare("SELECT count(*) AS n FROM users WHERE tenant_id = ?").bind(api.tenant).first("n");
    expect(n).toBe(0);
  });

  it("enforces the per-tenant member limits with 422, changing nothing", async () => {
    const api = await client();
    await (await shardOf(api.tenant))
      .prepare("INSERT INTO tenant_config (tenant_id, settings, updated_at) VALUES (?, ?, 0)")
      .bind(api.tenant, JSON.stringify({ maxMembersPerGroup: 3, maxGroupsPerUser: 2 }))
      .run();
    const g1 = await newGroup(api, "one");
    const g2 = await newGroup(api, "two");
    const g3 = await newGroup(api, "three");
    await api.post(`/v1/groups/${g1}/members`, { user_ids: ["a", "b"] });
    expectError(await api.post(`/v1/groups/${g1}/members`, { user_ids: ["c", "d"] }), 422, "limit_exceeded");
    expect(await memberIds(api.tenant, g1)).toEqual(["a", "b"]);
    // re-adding members already present does not count against the limit
    expect((await api.post(`/v1/groups/${g1}/members`, { user_ids: ["a", "b", "c"] })).json.result).toEqual({
      added: 1,
      already_members: 2,
    });
    await api.post(`/v1/groups/${g2}/members`, { user_ids: ["a"] });
    const over = await api.post(`/v1/groups/${g3}/members`, { user_ids: ["a", "x"] });
    expectError(over, 422, "limit_exceeded");
    expect(over.json.error.details[0].message).toContain("'a'");
    expect(await memberIds(api.tenant, g3)).toEqual([]);
  });
});

describe("users", () => {
  it("creates with PUT (201), replaces with PUT (200), patches and deletes", async () => {
    const api = await client();
    const created = await api.put("/v1/users/alice", { email: "Alice@Example.com", name: "Alice", custom_data: { team: "x" } });
    expect(created.status).toBe(201);
    expect(created.json.result).toMatchObject({ user_id: "alice", email: "Alice@Example.com", name: "Alice", custom_data: { team: "x" } });
    const replaced = await api.put("/v1/users/alice", { phone_number: "+14155550123" });
    expect(replaced.status).toBe(200);
    expect(replaced.json.result).toMatchObject({ email: null, name: null, phone_number: "+14155550123", custom_data: {} });
    const patched = await api.patch("/v1/users/alice", { given_name: "Al" });
    expect(patched.json.result).toMatchObject({ given_name: "Al", phone_number: "+14155550123" });
    expect((await api.get("/v1/users/alice")).json.result.given_name).toBe("Al");
  });

  it("keeps email and phone unique per tenant (409), case-insensitively for email", async () => {
    const api = await client();
    await api.put("/v1/users/a", { email: "same@example.com", phone_number: "+14155550100" });
    expectError(await api.put("/v1/users/b", { email: "SAME@example.com" }), 409, "conflict");
    expectError(await api.put("/v1/users/b", { phone_number: "+14155550100" }), 409, "conflict");
    expectError(await api.get("/v1/users/b"), 404, "not_found");
    // another tenant may use the same email
    const other = await client();
    expect((await other.put("/v1/users/b", { email: "same@example.com" })).status).toBe(201);
  });

  it("lists the tenant's users, whatever made them, paged in id order, or the one with an email", async () => {
    const api = await client(undefined, { scope: "admin" });
    await api.put("/v1/users/carol", { email: "Carol@Example.com", name: "Carol" });
    await api.post(`/v1/groups/${await newGroup(api)}/members`, { user_ids: ["bob", "alice"] });
    const scim = await call("POST", "/scim/v2/Users", {
      token: api.token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "dave@example.com" },
    });
    const dave = scim.json.id as string;
    const all = await api.get("/v1/users");
    expect(all.status).toBe(200);
    const ids = ["alice", "bob", "carol", dave].sort();
    expect(all.json.result.map((u: { user_id: string }) => u.user_id)).toEqual(ids);
    expect(all.json.next_cursor).toBeNull();
    expect(all.json.result.find((u: { user_id: string }) => u.user_id === "carol")).toMatchObject({
      email: "Carol@Example.com",
      name: "Carol",
    });

    const first = await api.get("/v1/users?limit=3");
    expect(first.json.result.map((u: { user_id: string }) => u.user_id)).toEqual(ids.slice(0, 3));
    const rest = await api.get(`/v1/users?limit=3&cursor=${first.json.next_cursor}`);
    expect(rest.json.result.map((u: { user_id: string }) => u.user_id)).toEqual(ids.slice(3));
    expect(rest.json.next_cursor).toBeNull();

    expect((await api.get("/v1/users?email=carol%40example.COM")).json.result.map((u: { user_id: string }) => u.user_id)).toEqual([
      "carol",
    ]);
    expect((await api.get("/v1/users?email=nobody%40example.com")).json).toEqual({ result: [], next_cursor: null });
    expectError(await api.get("/v1/users?email=not-an-email"), 400, "invalid");
    expectError(await api.get("/v1/users?limit=0"), 400, "invalid");
    expectError(await api.get("/v1/users?cursor=nope"), 400, "invalid");
    expect((await (await client()).get("/v1/users")).json.result).toEqual([]);
  });

  it("rejects bad profiles with 400", async () => {
    const api = await client();
    expectError(await api.put("/v1/users/a", { email: "not-an-email" }), 400, "invalid");
    expectError(await api.put("/v1/users/a", { phone_number: "0123" }), 400, "invalid");
    expectError(await api.put("/v1/users/a", { custom_data: "x" }), 400, "invalid");
    for (const picture of ["javascript:alert(1)", "data:image/png;base64,AAAA", "file:///etc/passwd", "not a url"]) {
      const res = await api.put("/v1/users/a", { picture });
      expectError(res, 400, "invalid");
      expect(res.json.error.details).toEqual([{ field: "picture", message: expect.any(String) }]);
    }
    expectError(await api.get("/v1/users/a"), 404, "not_found");
    expect((await api.put("/v1/users/a", { picture: "https://cdn.example.com/a.png" })).json.result.picture).toBe(
      "https://cdn.example.com/a.png",
    );
  });

  it("deleting a user removes them from every group and keeps counts exact", async () => {
    const api = await client();
    const g1 = await newGroup(api, "g1");
    const g2 = await newGroup(api, "g2");
    await api.post(`/v1/groups/${g1}/members`, { user_ids: ["alice", "bob"] });
    await api.post(`/v1/groups/${g2}/members`, { user_ids: ["alice"] });
    expect((await api.del("/v1/users/alice")).status).toBe(204);
    expectError(await api.get("/v1/users/alice"), 404, "not_found");
    expect(await memberIds(api.tenant, g1)).toEqual(["bob"]);
    expect(await memberCount(api.tenant, g1)).toBe(1);
    expect(await memberCount(api.tenant, g2)).toBe(0);
    expectError(await api.del("/v1/users/alice"), 404, "not_found");
  });
});

describe("members by email or phone, and member search", () => {
  it("adds members named by email or phone number, 404 naming an unknown one, and searches them", async () => {
    const api = await client();
    await api.put("/v1/users/carol", { email: "Carol@Example.com", name: "Carol" });
    await api.put("/v1/users/dave", { phone_number: "+14155550123", name: "Dave" });
    const g = (await api.post("/v1/groups", { name: "By contact" })).json.result.group_id;
    const unknown = await api.post(`/v1/groups/${g}/members`, { emails: ["carol@example.com", "nobody@example.com"] });
    expectError(unknown, 404, "not_found");
    expect(unknown.json.error.message).toContain("nobody@example.com");
    expect((await api.get(`/v1/groups/${g}/members`)).json.result).toEqual([]);

    const r = await api.post(`/v1/groups/${g}/members`, {
      user_ids: ["alice"],
      emails: ["carol@example.com"],
      phone_numbers: ["+14155550123"],
    });
    expect(r.json.result).toEqual({ added: 3, already_members: 0 });
    const ids = async (q: string) => (await api.get(`/v1/groups/${g}/members?search=${q}`)).json.result.map((m: any) => m.user_id);
    expect(await ids("car")).toEqual(["carol"]);
    expect(await ids("DA")).toEqual(["dave"]);
    expect(await ids("a")).toEqual(["alice"]);
    expect(await ids("%")).toEqual([]);
    expectError(await api.post(`/v1/groups/${g}/members`, {}), 400, "invalid");
  });
});
