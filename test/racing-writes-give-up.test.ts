import { afterEach, describe, expect, it } from "vitest";
import { analyticsWriteKey, type Client, call, client, expectError, shardOf, token } from "./helpers";

// A write that meets another write landing first reads again and tries again, a bounded number
// of times (ARCHITECTURE principle 7). These tests make every try meet one: a trigger in the
// tenant's D1 plays "another write landed first" on each attempt (it moves the row's version,
// or adds the user to another group, inside the write's own transaction), so the give-up
// answer and what it leaves stored can be checked. Each trigger names only its test's tenant.

const triggers: { db: D1Database; name: string }[] = [];

async function trigger(tenant: string, name: string, body: string) {
  const db = await shardOf(tenant);
  await db.prepare(body).run();
  triggers.push({ db, name });
}

async function dropTriggers() {
  for (const { db, name } of triggers.splice(0)) await db.prepare(`DROP TRIGGER IF EXISTS ${name}`).run();
}

afterEach(dropTriggers);

/** Every write of the settings of `tenant` meets another that landed first: its version moves, and it is not written. */
const configRaced = (tenant: string, name: string) =>
  trigger(
    tenant,
    name,
    `CREATE TRIGGER ${name} BEFORE UPDATE OF settings ON tenant_config WHEN OLD.tenant_id = '${tenant}'
     BEGIN
       UPDATE tenant_config SET version = version + 1 WHERE tenant_id = OLD.tenant_id;
       SELECT RAISE(IGNORE);
     END`,
  );

/** Every write of user `userId` of `tenant` meets another that landed first. */
const userRaced = (tenant: string, userId: string, name: string) =>
  trigger(
    tenant,
    name,
    `CREATE TRIGGER ${name} BEFORE UPDATE OF updated_at ON users WHEN OLD.tenant_id = '${tenant}' AND OLD.id = '${userId}'
     BEGIN
       UPDATE users SET version = version + 1 WHERE tenant_id = OLD.tenant_id AND id = OLD.id;
       SELECT RAISE(IGNORE);
     END`,
  );

/** Whoever joins `groupId` of `tenant` joins `elsewhere` in the same transaction, as if another group's coordinator added them meanwhile. */
const joinsElsewhere = (tenant: string, groupId: string, elsewhere: string) =>
  trigger(
    tenant,
    "joins_elsewhere",
    `CREATE TRIGGER joins_elsewhere AFTER INSERT ON memberships WHEN NEW.tenant_id = '${tenant}' AND NEW.group_id = '${groupId}'
     BEGIN
       INSERT INTO memberships (tenant_id, group_id, user_id, role, sources, added_at)
       VALUES (NEW.tenant_id, '${elsewhere}', NEW.user_id, 'member', 1, NEW.added_at);
     END`,
  );

/** Whenever `userId` of `tenant` is given a role, the user is deleted in the same transaction, as if a deletion landed meanwhile. */
const deletedWhileGiven = (tenant: string, userId: string) =>
  trigger(
    tenant,
    "deleted_while_given",
    `CREATE TRIGGER deleted_while_given AFTER INSERT ON user_roles WHEN NEW.tenant_id = '${tenant}' AND NEW.user_id = '${userId}'
     BEGIN
       DELETE FROM users WHERE tenant_id = NEW.tenant_id AND id = NEW.user_id;
     END`,
  );

const groupIdsOf = async (admin: Client, userId: string) =>
  ((await admin.get(`/v1/users/${userId}/groups`)).json.result as { group_id: string }[]).map((g) => g.group_id).sort();

describe("a write that keeps meeting racing writes gives up", () => {
  it("PATCH /v1/config: 409 after its tries, the settings as they were and no event", async () => {
    const admin = await client(undefined, { scope: "admin" });
    expect((await admin.patch("/v1/config", { maxGroupsPerUser: 50 })).status).toBe(200);
    const before = await admin.get("/v1/config");
    const events = (await admin.get("/v1/events?types=config.updated")).json.result.length;
    await configRaced(admin.tenant, "config_raced");
    const res = await admin.patch("/v1/config", { maxMembersPerGroup: 10 });
    expectError(res, 409, "conflict");
    expect(res.json.error.message).toMatch(/changed 8 times/);
    const after = await admin.get("/v1/config");
    expect(after.json.result.maxGroupsPerUser).toBe(50);
    expect(after.json.result.maxMembersPerGroup).toBe(before.json.result.maxMembersPerGroup);
    expect((await admin.get("/v1/events?types=config.updated")).json.result).toHaveLength(events);
  });

  it("SCIM PATCH of a user without If-Match: 503 with Retry-After in SCIM's error format (not a 412 it never asked for), the user unchanged", async () => {
    const tenant = `scim-give-up-${crypto.randomUUID()}`;
    const scimToken = await token({ tenant, scope: "scim" });
    const headers = { "content-type": "application/scim+json" };
    const created = await call("POST", "/scim/v2/Users", {
      token: scimToken,
      headers,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "ann@example.com", title: "Engineer" },
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    await userRaced(tenant, id, "scim_user_raced");
    const res = await call("PATCH", `/scim/v2/Users/${id}`, {
      token: scimToken,
      headers,
      body: {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "replace", path: "title", value: "Manager" }],
      },
    });
    expect(res.status, res.text).toBe(503);
    expect(res.json.schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:Error"]);
    expect(res.json.status).toBe("503");
    expect(res.json.detail).toMatch(/kept changing/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    // A PUT makes its change from the user as read too.
    const put = await call("PUT", `/scim/v2/Users/${id}`, {
      token: scimToken,
      headers,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "ann@example.com", title: "Director" },
    });
    expect(put.status, put.text).toBe(503);
    expect(put.json.detail).toMatch(/kept changing/);
    const read = await call("GET", `/scim/v2/Users/${id}`, { token: scimToken });
    expect(read.json.title).toBe("Engineer");
  });

  it("a Segment identify: 503, which the SDKs retry (a 4xx they would drop), and the traits not written", async () => {
    const { admin, key } = await analyticsWriteKey();
    expect((await admin.put("/v1/users/ida", { custom_data: { plan: "free" } })).status).toBe(201);
    await userRaced(admin.tenant, "ida", "identify_raced");
    const res = await call("POST", "/v1/identify", {
      headers: { authorization: `Basic ${btoa(`${key}:`)}` },
      body: { userId: "ida", traits: { plan: "pro" }, messageId: "m-ida" },
    });
    expect(res.status, res.text).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await admin.get("/v1/users/ida")).json.result.custom_data).toEqual({ plan: "free" });
  });

  it("an add whose users keep joining other groups meanwhile: 503 after its tries, no membership written", async () => {
    const admin = await client(undefined, { scope: "admin" });
    expect((await admin.patch("/v1/config", { maxGroupsPerUser: 2 })).status).toBe(200);
    const made = async (name: string) => (await admin.post("/v1/groups", { name })).json.result.group_id as string;
    const [held, target, elsewhere] = [await made("Held"), await made("Target"), await made("Elsewhere")];
    expect((await admin.post(`/v1/groups/${held}/members`, { user_ids: ["bo"] })).status).toBe(200);
    // As the add to Target writes, another group's coordinator adds bo to Elsewhere: bo would hold 3 groups of 2.
    await joinsElsewhere(admin.tenant, target, elsewhere);
    const res = await admin.post(`/v1/groups/${target}/members`, { user_ids: ["bo"] });
    expectError(res, 503, "unavailable");
    expect(res.json.error.message).toMatch(/kept changing/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    // A replace of the members adds the same way.
    const replaced = await admin.put(`/v1/groups/${target}/members`, { user_ids: ["bo"] });
    expectError(replaced, 503, "unavailable");
    expect(Number(replaced.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await groupIdsOf(admin, "bo")).toEqual([held]);
    expect((await admin.get(`/v1/groups/${target}`)).json.result.member_count).toBe(0);
  });

  // A call into a group that exists checks the count in its one batch, before it writes; one that creates its group
  // reads first and checks again at the end of its batch, where a racing add can meet it.
  it("a Segment group call creating its group, whose user keeps joining other groups meanwhile: 503 for the request, so the SDK sends it again", async () => {
    const { admin, key } = await analyticsWriteKey();
    expect((await admin.patch("/v1/config", { maxGroupsPerUser: 2 })).status).toBe(200);
    const elsewhere = (await admin.post("/v1/groups", { name: "Elsewhere" })).json.result.group_id as string;
    const auth = { authorization: `Basic ${btoa(`${key}:`)}` };
    const group = (userId: string, messageId: string) =>
      call("POST", "/v1/group", { headers: auth, body: { userId, groupId: "acme", traits: { name: "Acme" }, messageId } });
    const held = (await admin.post("/v1/groups", { name: "Held" })).json.result.group_id as string;
    expect((await admin.post(`/v1/groups/${held}/members`, { user_ids: ["cy"] })).status).toBe(200);
    await joinsElsewhere(admin.tenant, "acme", elsewhere);
    const res = await group("cy", "m-cy");
    expect(res.status, res.text).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await groupIdsOf(admin, "cy")).toEqual([held]);
    // Once the racing adds stop, the SDK's retry (the same messageId) is applied.
    await dropTriggers();
    expect((await group("cy", "m-cy")).status).toBe(200);
    expect(await groupIdsOf(admin, "cy")).toEqual(["acme", held].sort());
  });
  // The batch's check fails and rolls the deletion back with it, so each try reads the user again (as if made again).
  it("giving a user roles while the user keeps being deleted: 503 after its tries, no role given and the user kept", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const role = (await admin.post("/v1/roles", { key: "auditor", name: "Auditor", level: 30 })).json.result.role_id as string;
    expect((await admin.put("/v1/users/uma", { name: "Uma" })).status).toBe(201);
    await deletedWhileGiven(admin.tenant, "uma");
    const res = await admin.post("/v1/users/uma/roles", { role_ids: [role] });
    expectError(res, 503, "unavailable");
    expect(res.json.error.message).toMatch(/kept changing/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await admin.get("/v1/users/uma")).json.result.name).toBe("Uma");
    expect((await admin.get("/v1/users/uma/roles")).json.result).toEqual([]);
    await dropTriggers();
    expect((await admin.post("/v1/users/uma/roles", { role_ids: [role] })).json.result).toEqual({ assigned: 1, already_assigned: 0 });
    expect((await admin.get("/v1/users/uma/roles")).json.result.map((r: { key: string }) => r.key)).toEqual(["auditor"]);
  });
});
