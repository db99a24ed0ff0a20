import { afterEach, describe, expect, it, vi } from "vitest";
import { buildApp } from "../src/app";
import { KEY_CACHE_MS } from "../src/auth/api-key";
import { createApiKey } from "../src/core/keys";
import { database } from "../src/core/shared/context";
import { type Client, call, client, env, eventually, expectError, freshTenant, shardOf } from "./helpers";

async function newKey(admin: Client, body: Record<string, unknown>) {
  const res = await admin.post("/v1/api-keys", body);
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.result as { key_id: string; secret: string; scopes: string[] };
}

const keyRow = async (tenant: string, id: string) =>
  (await shardOf(tenant))
    .prepare("SELECT * FROM api_keys WHERE tenant_id = ? AND id = ?")
    .bind(tenant, id)
    .first<Record<string, unknown>>();

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const basic = (user: string) => ({ authorization: `Basic ${btoa(`${user}:`)}` });

afterEach(() => {
  vi.useRealTimers();
});

describe("API keys", () => {
  it("creates a key whose secret is shown once and stored only as a hash; lists keys without secrets", async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin", sub: "ops-admin" });
    const created = await admin.post("/v1/api-keys", { name: "Okta SCIM", scopes: ["scim"] });
    expect(created.status).toBe(201);
    const key = created.json.result;
    expect(key.secret).toMatch(/^egk_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({
      name: "Okta SCIM",
      scopes: ["scim"],
      created_by: "ops-admin",
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
    });
    expect(key.hint).toBe(key.secret.slice(0, 12));

    const row = await keyRow(admin.tenant, key.key_id);
    expect(row).not.toBeNull();
    expect(Object.values(row!)).not.toContain(key.secret);
    expect(row!.secret_hash).toMatch(/^[0-9a-f]{64}$/);

    const listed = await admin.get("/v1/api-keys");
    expect(listed.status).toBe(200);
    expect(listed.json.result).toHaveLength(1);
    expect(listed.json.result[0]).toMatchObject({ key_id: key.key_id, name: "Okta SCIM", scopes: ["scim"] });
    expect(listed.json.result[0].secret).toBeUndefined();
    expect(listed.text).not.toContain(key.secret);
  });

  it("is accepted wherever a token is, and its scopes limit it exactly as a token's do", async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin" });
    const all = await newKey(admin, { name: "everything but admin", scopes: ["groups:read", "groups:write", "scim", "group_api"] });
    const readOnly = await newKey(admin, { name: "reader", scopes: ["groups:read"] });

    const made = await call("POST", "/v1/groups", { headers: bearer(all.secret), body: { name: "Made by a key" } });
    expect(made.status).toBe(201);
    const gid = made.json.result.group_id;
    expectError(await call("POST", "/v1/groups", { headers: bearer(readOnly.secret), body: { name: "no" } }), 403, "forbidden");
    expect((await call("GET", `/v1/groups/${gid}`, { headers: bearer(readOnly.secret) })).json.result.name).toBe("Made by a key");
    // Admin-only calls need admin on the key too.
    expectError(await call("GET", "/v1/api-keys", { headers: bearer(all.secret) }), 403, "forbidden");

    // Seed 001, seed 004 (accessToken header), SCIM, the Segment write key and seed 002's group calls.
    expect((await call("GET", "/resources/groups/v1", { headers: bearer(readOnly.secret) })).json.groups.map((g: any) => g.name)).toEqual([
      "Made by a key",
    ]);
    const kaizala = await call("GET", "/kaizala/v1/groups", { headers: { accesstoken: readOnly.secret } });
    expect(kaizala.status).toBe(200);
    const scim = await call("GET", "/scim/v2/Groups", { headers: bearer(all.secret) });
    expect(scim.status).toBe(200);
    expect(scim.json.Resources.map((g: any) => g.displayName)).toEqual(["Made by a key"]);
    expect((await call("GET", "/scim/v2/Groups", { headers: bearer(readOnly.secret) })).status).toBe(403);

    const segment = await call("POST", "/v1/group", {
      headers: basic(all.secret),
      body: { type: "group", userId: "sdk-user", groupId: "acct-1", traits: { plan: "pro" } },
    });
    expect(segment.status, segment.text).toBe(200);
    expect((await call("POST", "/v1/group", { headers: basic(readOnly.secret), body: { userId: "x", groupId: "acct-2" } })).status).toBe(
      403,
    );
    const stored = await (await shardOf(admin.tenant))
      .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = 'acct-1' AND user_id = 'sdk-user'")
      .bind(admin.tenant)
      .first("n");
    expect(stored).toBe(1);
  });

  it("acts only in its own tenant", async () => {
    const a = await client(freshTenant("keys-a"), { scope: "admin" });
    const b = await client(freshTenant("keys-b"), { scope: "admin" });
    const gid = (await a.post("/v1/groups", { name: "A only" })).json.result.group_id;
    const bKey = await newKey(b, { name: "b admin", scopes: ["admin"] });
    expectError(await call("GET", `/v1/groups/${gid}`, { headers: bearer(bKey.secret) }), 404, "not_found");
    const named = await call("GET", "/resources/groups/v1", { headers: { ...bearer(bKey.secret), "frontegg-tenant-id": a.tenant } });
    expect(named.status).toBe(403);
    expect((await call("GET", "/v1/groups", { headers: bearer(bKey.secret) })).json.result).toEqual([]);
    // A's key list does not show B's key, and B cannot revoke A's.
    const aKey = await newKey(a, { name: "a reader", scopes: ["groups:read"] });
    expect((await a.get("/v1/api-keys")).json.result.map((k: any) => k.key_id)).toEqual([aKey.key_id]);
    expectError(await b.del(`/v1/api-keys/${aKey.key_id}`), 404, "not_found");
    expect((await keyRow(a.tenant, aKey.key_id))!.revoked_at).toBeNull();
  });

  it("stops working at once when revoked here, and is listed as revoked", async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin" });
    const key = await newKey(admin, { name: "soon gone", scopes: ["groups:read"] });
    expect((await call("GET", "/v1/groups", { headers: bearer(key.secret) })).status).toBe(200);
    const revoked = await admin.del(`/v1/api-keys/${key.key_id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.result.revoked_at).toBeGreaterThan(0);
    const refused = await call("GET", "/v1/groups", { headers: bearer(key.secret) });
    expectError(refused, 401, "unauthorized");
    expect(refused.json.error.message).toMatch(/revoked/);
    expect((await call("POST", "/v1/group", { headers: basic(key.secret), body: { userId: "u", groupId: "g" } })).status).toBe(401);
    // Revoking again keeps the first time; an unknown id is 404.
    expect((await admin.del(`/v1/api-keys/${key.key_id}`)).json.result.revoked_at).toBe(revoked.json.result.revoked_at);
    expectError(await admin.del("/v1/api-keys/no-such-key"), 404, "not_found");
  });

  it(`stops working in an isolate that knew it within ${KEY_CACHE_MS / 1000} s of a revocation made elsewhere`, async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin" });
    const key = await newKey(admin, { name: "cached elsewhere", scopes: ["groups:read"] });
    // This test's own isolate, with its own cache of known keys, plays the other isolate.
    const app = buildApp();
    const get = async () => (await app.request("/v1/groups", { headers: bearer(key.secret) }, env)).status;
    expect(await get()).toBe(200);
    await (await shardOf(admin.tenant))
      .prepare("UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ?")
      .bind(Date.now(), admin.tenant, key.key_id)
      .run();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + KEY_CACHE_MS + 1);
    expect(await get()).toBe(401);
  });

  it("refuses unknown, malformed and expired keys with 401 naming which", async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin" });
    const unknown = await call("GET", "/v1/groups", { headers: bearer(`egk_${"A".repeat(43)}`) });
    expectError(unknown, 401, "unauthorized");
    expect(unknown.json.error.message).toMatch(/not known/);
    const malformed = await call("GET", "/v1/groups", { headers: bearer("egk_short") });
    expect(malformed.json.error.message).toMatch(/malformed/);
    // expires_at is in whole seconds: +2 is at least a second ahead (+1 could be a millisecond, and refused as past).
    const soon = await newKey(admin, { name: "short-lived", scopes: ["groups:read"], expires_at: Math.floor(Date.now() / 1000) + 2 });
    await eventually(async () => (await call("GET", "/v1/groups", { headers: bearer(soon.secret) })).status === 401, 5_000, 200);
    const expired = await call("GET", "/v1/groups", { headers: bearer(soon.secret) });
    expect(expired.json.error.message).toMatch(/expired/);
  });

  it("refuses bad creation requests and changes nothing", async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin" });
    const writer = await client(admin.tenant, { scope: "groups:read groups:write" });
    const past = await admin.post("/v1/api-keys", { name: "old", scopes: ["groups:read"], expires_at: Math.floor(Date.now() / 1000) - 10 });
    expectError(past, 400, "invalid");
    expect(JSON.stringify(past.json)).toMatch(/expires_at/);
    const typo = await admin.post("/v1/api-keys", { name: "typo", scopes: ["groups:read"], expires_at: 99_999_999_999_999 });
    expectError(typo, 400, "invalid");
    expect(typo.json.error.details).toEqual([{ field: "expires_at", message: "more than a century ahead" }]);
    const badScope = await admin.post("/v1/api-keys", { name: "x", scopes: ["groups:read", "root"] });
    expectError(badScope, 400, "invalid");
    expect(JSON.stringify(badScope.json)).toMatch(/must be one of/);
    expectError(await admin.post("/v1/api-keys", { name: "x", scopes: [] }), 400, "invalid");
    expectError(await admin.post("/v1/api-keys", { scopes: ["scim"] }), 400, "invalid");
    expectError(await admin.post("/v1/api-keys", { name: "x", scopes: ["scim"], tenant_id: "someone-else" }), 400, "invalid");
    expectError(
      await call("POST", "/v1/api-keys", { token: admin.token, rawBody: "{nope", headers: { "content-type": "application/json" } }),
      400,
      "invalid",
    );
    expectError(await writer.post("/v1/api-keys", { name: "x", scopes: ["groups:read"] }), 403, "forbidden");
    expect((await admin.get("/v1/api-keys")).json.result).toEqual([]);
  });

  it("cannot be given a scope its creator lacks (403), and stops at 100 unrevoked keys per tenant (422)", async () => {
    const tenant = freshTenant("keys");
    const db = database(await shardOf(tenant));
    const scope = (scopes: string[]) => ({
      env,
      db,
      tenantId: tenant,
      actor: "x",
      principal: { tenantId: tenant, subject: "x", credential: "token" as const, scopes: new Set(scopes), roles: [] },
    });
    await expect(createApiKey(scope(["groups:read"]), { name: "wider", scopes: ["groups:read", "scim"] })).rejects.toMatchObject({
      kind: "forbidden",
    });
    const admin = await client(tenant, { scope: "admin" });
    for (let i = 0; i < 100; i++) await createApiKey(scope(["admin"]), { name: `k${i}`, scopes: ["groups:read"] });
    expectError(await admin.post("/v1/api-keys", { name: "one too many", scopes: ["groups:read"] }), 422, "limit_exceeded");
    const n = await (await shardOf(tenant)).prepare("SELECT count(*) AS n FROM api_keys WHERE tenant_id = ?").bind(tenant).first("n");
    expect(n).toBe(100);
  });

  it("records when a key was last used, at most once a minute", async () => {
    const admin = await client(freshTenant("keys"), { scope: "admin" });
    const key = await newKey(admin, { name: "used", scopes: ["groups:read"] });
    expect((await call("GET", "/v1/groups", { headers: bearer(key.secret) })).status).toBe(200);
    await eventually(async () => (await keyRow(admin.tenant, key.key_id))!.last_used_at !== null);
    const first = (await keyRow(admin.tenant, key.key_id))!.last_used_at;
    expect((await call("GET", "/v1/groups", { headers: bearer(key.secret) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect((await keyRow(admin.tenant, key.key_id))!.last_used_at).toBe(first);
    const listed = (await admin.get("/v1/api-keys")).json.result[0];
    expect(listed.last_used_at).toBe(Math.floor(Number(first) / 1000));
  });

  it("authenticates Okta's token hook (scope hooks) before reading the body, for the key's tenant", async () => {
    const admin = await client(freshTenant("hook"), { scope: "admin" });
    const gid = (await admin.post("/v1/groups", { name: "Hooked via key" })).json.result.group_id;
    await admin.put("/v1/users/okta-user", { email: "okta.user@example.com" });
    await admin.post(`/v1/groups/${gid}/members`, { user_ids: ["okta-user"] });
    const hookKey = await newKey(admin, { name: "okta hook", scopes: ["hooks"] });
    const other = await newKey(admin, { name: "not for hooks", scopes: ["groups:read"] });
    const body = { data: { context: { user: { id: "00uX", profile: { login: "okta.user@example.com" } } } } };
    const res = await call("POST", "/hooks/okta/token", { body, headers: { authorization: hookKey.secret } });
    expect(res.status, res.text).toBe(200);
    expect(JSON.stringify(res.json)).toContain("Hooked via key");
    expect((await call("POST", "/hooks/okta/token", { body, headers: { authorization: `Bearer ${hookKey.secret}` } })).status).toBe(200);
    expect((await call("POST", "/hooks/okta/token", { body, headers: { authorization: other.secret } })).status).toBe(403);
    // No or a wrong secret: 401 before any word about the body's shape.
    const anonymous = await call("POST", "/hooks/okta/token", { body: { nonsense: true } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toMatch(/data|context/);
  });
});
