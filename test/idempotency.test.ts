// Idempotency-Key on writes of /v1, seed 001 and seed 004: a retry gets the first answer
// and changes nothing; another request under the same key is a 422; keys are per tenant.
import { describe, expect, it, vi } from "vitest";
import { buildApp } from "../src/app";
import { purgeIdempotencyKeys } from "../src/core/idempotency";
import { database } from "../src/core/shared/context";
import { type Client, call, client, env, expectError, shardOf } from "./helpers";

const withKey = (api: Client, method: string, path: string, key: string, body?: unknown) =>
  call(method, path, { token: api.token, headers: { "idempotency-key": key }, body });

const groupCount = async (tenant: string) =>
  (await shardOf(tenant)).prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?").bind(tenant).first<number>("n");

describe("idempotency keys", () => {
  it("answers a retry with the first answer, marked as a replay, and creates nothing more", async () => {
    const api = await client();
    const first = await withKey(api, "POST", "/v1/groups", "create-1", { name: "Once" });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const retry = await withKey(api, "POST", "/v1/groups", "create-1", { name: "Once" });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.json).toEqual(first.json);
    expect(retry.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(await groupCount(api.tenant)).toBe(1);
    // Without the key the same body is a new request: a name clash.
    expectError(await api.post("/v1/groups", { name: "Once" }), 409, "conflict");
  });

  it("refuses the same key on a different request (422) and changes nothing", async () => {
    const api = await client();
    await withKey(api, "POST", "/v1/groups", "k", { name: "First" });
    const other = await withKey(api, "POST", "/v1/groups", "k", { name: "Second" });
    expectError(other, 422, "key_reused");
    const otherPath = await withKey(api, "PUT", "/v1/users/ann", "k", { name: "Ann" });
    expectError(otherPath, 422, "key_reused");
    expect(await groupCount(api.tenant)).toBe(1);
    expect((await api.get("/v1/users/ann")).status).toBe(404);
  });

  it("applies a 1,000-member add once when its first answer was lost and it is sent again", async () => {
    const api = await client(undefined, { scope: "admin" });
    const g = (await api.post("/v1/groups", { name: "Big" })).json.result.group_id as string;
    const ids = Array.from({ length: 1_000 }, (_, i) => `u${i}`);
    // The first attempt's answer is never read by the client.
    void (await withKey(api, "POST", `/v1/groups/${g}/members`, "add-1000", { user_ids: ids }));
    const retry = await withKey(api, "POST", `/v1/groups/${g}/members`, "add-1000", { user_ids: ids });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.json.result).toEqual({ added: 1_000, already_members: 0 });
    const audit = await api.get(`/v1/groups/${g}/audit`);
    expect(audit.json.result.filter((e: { action: string }) => e.action === "members.add")).toHaveLength(1);
    expect((await api.get(`/v1/groups/${g}`)).json.result.member_count).toBe(1_000);
  });

  it("lets one of two concurrent requests with one key apply; the other gets its answer or a 409", async () => {
    const api = await client();
    const [a, b] = await Promise.all([
      withKey(api, "POST", "/v1/groups", "race", { name: "Raced" }),
      withKey(api, "POST", "/v1/groups", "race", { name: "Raced" }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect([
      [201, 201],
      [201, 409],
    ]).toContainEqual(statuses);
    if (statuses[1] === 201) expect(a.json).toEqual(b.json);
    expect([a, b].filter((r) => r.headers.get("idempotent-replayed") === "true").length).toBe(statuses[1] === 201 ? 1 : 0);
    expect(await groupCount(api.tenant)).toBe(1);
  });

  it("keeps error answers too: a retry of a 404 is the same 404", async () => {
    const api = await client();
    const missing = await withKey(api, "POST", "/v1/groups/nope/members", "m", { user_ids: ["ann"] });
    expectError(missing, 404, "not_found");
    const again = await withKey(api, "POST", "/v1/groups/nope/members", "m", { user_ids: ["ann"] });
    expectError(again, 404, "not_found");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  it("frees the key after an answer of ours that failed (5xx), so the retry runs afresh", async () => {
    const api = await client();
    const g = (await api.post("/v1/groups", { name: "Flaky" })).json.result.group_id as string;
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    // The group's coordinator unreachable, as in an outage (the one fault this test injects).
    const down = {
      ...env,
      REQUEST_LOG: "off",
      GROUP_COORDINATOR: {
        idFromName: (name: string) => env.GROUP_COORDINATOR.idFromName(name),
        get: () => {
          throw new Error("Durable Object unreachable");
        },
      },
    };
    const failed = await buildApp().request(
      `/v1/groups/${g}/members`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json", "idempotency-key": "flaky" },
        body: JSON.stringify({ user_ids: ["ann"] }),
      },
      down,
    );
    expect(failed.status).toBe(500);
    const kept = await (await shardOf(api.tenant))
      .prepare("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ?")
      .bind(api.tenant)
      .first<number>("n");
    expect(kept).toBe(0);
    const retry = await withKey(api, "POST", `/v1/groups/${g}/members`, "flaky", { user_ids: ["ann"] });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(retry.json.result).toEqual({ added: 1, already_members: 0 });
  });

  it("keeps keys per tenant: another tenant's same key and body run as its own request", async () => {
    const a = await client();
    const b = await client(`${a.tenant}:b`);
    const first = await withKey(a, "POST", "/v1/groups", "shared", { name: "Mine" });
    const other = await withKey(b, "POST", "/v1/groups", "shared", { name: "Mine" });
    expect(other.status).toBe(201);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(other.json.result.group_id).not.toBe(first.json.result.group_id);
    expect(await groupCount(a.tenant)).toBe(1);
    expect(await groupCount(b.tenant)).toBe(1);
    expect((await b.get(`/v1/groups/${first.json.result.group_id}`)).status).toBe(404);
  });

  it("keeps keys per caller: another credential of the tenant never gets this caller's answer", async () => {
    const writer = await client(undefined, { sub: "writer" });
    const reader = await client(writer.tenant, { sub: "reader", scope: "groups:read" });
    const first = await withKey(writer, "POST", "/v1/groups", "mine", { name: "Writer's" });
    expect(first.status).toBe(201);
    const replayAttempt = await withKey(reader, "POST", "/v1/groups", "mine", { name: "Writer's" });
    expectError(replayAttempt, 403, "forbidden");
    expect(replayAttempt.headers.get("idempotent-replayed")).toBeNull();
    expect(await groupCount(writer.tenant)).toBe(1);
  });

  it("keeps nothing of an API key's creation: its secret is shown once", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const a = await withKey(admin, "POST", "/v1/api-keys", "key-1", { name: "ci", scopes: ["groups:read"] });
    const b = await withKey(admin, "POST", "/v1/api-keys", "key-1", { name: "ci", scopes: ["groups:read"] });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.json.result.secret).not.toBe(a.json.result.secret);
    const kept = await (await shardOf(admin.tenant))
      .prepare("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ?")
      .bind(admin.tenant)
      .first<number>("n");
    expect(kept).toBe(0);
  });

  it("honours the key on seed 001 and seed 004, in their formats", async () => {
    const api = await client();
    const f1 = await withKey(api, "POST", "/resources/groups/v1", "f", { name: "Seed one" });
    const f2 = await withKey(api, "POST", "/resources/groups/v1", "f", { name: "Seed one" });
    expect(f1.status).toBe(201);
    expect(f2.headers.get("idempotent-replayed")).toBe("true");
    expect(f2.json).toEqual(f1.json);
    const reused = await withKey(api, "POST", "/resources/groups/v1", "f", { name: "Seed two" });
    expect(reused.status).toBe(422);
    expect(reused.json.errors[0]).toMatch(/Idempotency-Key/);

    await api.put("/v1/users/me", { phone_number: "+14155550100" });
    const k = await client(api.tenant, { sub: "me" });
    const body = { name: "Chat", welcomeMessage: "hi" };
    const k1 = await withKey(k, "POST", "/kaizala/v1/groups", "z", body);
    const k2 = await withKey(k, "POST", "/kaizala/v1/groups", "z", body);
    expect(k1.status).toBe(200);
    expect(k2.headers.get("idempotent-replayed")).toBe("true");
    expect(k2.json.groupId).toBe(k1.json.groupId);
    expect(await groupCount(api.tenant)).toBe(2);
  });

  it("refuses a malformed key, and frees a key after 24 hours", async () => {
    const api = await client();
    expectError(await withKey(api, "POST", "/v1/groups", "x".repeat(256), { name: "Long" }), 400, "invalid");
    expectError(await withKey(api, "POST", "/v1/groups", "has space", { name: "Space" }), 400, "invalid");
    expect(await groupCount(api.tenant)).toBe(0);

    await withKey(api, "POST", "/v1/groups", "old", { name: "Day one" });
    await (await shardOf(api.tenant))
      .prepare("UPDATE idempotency_keys SET created_at = created_at - 86400001 WHERE tenant_id = ?")
      .bind(api.tenant)
      .run();
    const later = await withKey(api, "POST", "/v1/groups", "old", { name: "Day two" });
    expect(later.status).toBe(201);
    expect(later.headers.get("idempotent-replayed")).toBeNull();
    await (await shardOf(api.tenant))
      .prepare("UPDATE idempotency_keys SET created_at = created_at - 86400001 WHERE tenant_id = ?")
      .bind(api.tenant)
      .run();
    expect(await purgeIdempotencyKeys(database(await shardOf(api.tenant)))).toBeGreaterThanOrEqual(1);
    const left = await (await shardOf(api.tenant))
      .prepare("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ?")
      .bind(api.tenant)
      .first<number>("n");
    expect(left).toBe(0);
  });
});
