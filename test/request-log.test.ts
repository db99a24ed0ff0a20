import { afterEach, describe, expect, it, vi } from "vitest";
import { buildApp } from "../src/app";
import { surfaceOf } from "../src/http/surface";
import { call, client, env, freshTenant, placeInDirectory, shardOf, token } from "./helpers";

const logging = { ...env, REQUEST_LOG: "on" };
const lines = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("one log line per request", () => {
  it("names the request, tenant, surface, route pattern, status, duration and the binding calls, and no secret or profile data", async () => {
    const api = await client(freshTenant("log"), { scope: "admin" });
    const gid = (await api.post("/v1/groups", { name: "Logged" })).json.result.group_id;
    await api.put("/v1/users/lee", { email: "lee.private@example.com", name: "Lee Private" });
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const app = buildApp();
    const add = await app.request(
      `/v1/groups/${gid}/members`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json" },
        body: JSON.stringify({ emails: ["lee.private@example.com"] }),
      },
      logging,
    );
    expect(add.status).toBe(200);
    const claim = await app.request("/v1/users/lee/claims", { headers: { authorization: `Bearer ${api.token}` } }, logging);
    expect(claim.status).toBe(200);
    const [addLine, claimLine] = lines(log).filter((l) => l.msg === "request");
    expect(addLine).toMatchObject({
      tenant: api.tenant,
      surface: "native",
      route: "/v1/groups/:group_id/members",
      method: "POST",
      status: 200,
    });
    expect(typeof addLine!.request_id).toBe("string");
    expect(addLine!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(addLine!.d1).toBeGreaterThan(0);
    expect(addLine!.durableObjects).toBe(1);
    expect(claimLine).toMatchObject({ route: "/v1/users/:user_id/claims", status: 200 });
    expect(claimLine!.kv).toBeGreaterThan(0);
    const text = JSON.stringify(log.mock.calls);
    for (const secret of [api.token, "lee.private@example.com", "Lee Private", env.AUTH_DEV_SECRET!]) expect(text).not.toContain(secret);
  });

  it("counts a call on any Durable Object: a rate limit's lease and a claims writer's hand-off, beside the coordinators'", async () => {
    const api = await client(freshTenant("log-objects"), { scope: "admin" });
    const db = await shardOf(api.tenant);
    await db.batch([
      db
        .prepare("INSERT INTO tenant_config (tenant_id, settings, updated_at) VALUES (?, ?, ?)")
        .bind(api.tenant, JSON.stringify({ rateLimits: { requestsPerMinute: 1_000 } }), Date.now()),
      db.prepare("INSERT INTO users (tenant_id, id, created_at, updated_at) VALUES (?, 'kim', 0, 0)").bind(api.tenant),
    ]);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    // The tenant's first request: its budget's lease is taken; and a claim KV does not hold yet, read from D1 and
    // handed to the user's writer.
    const res = await buildApp().request("/v1/users/kim/claims", { headers: { authorization: `Bearer ${api.token}` } }, logging);
    expect(res.status).toBe(200);
    const [line] = lines(log).filter((l) => l.msg === "request");
    expect(line).toMatchObject({ route: "/v1/users/:user_id/claims", status: 200, durableObjects: 2 });
  });

  it("logs a refused request with its status and no tenant, and says nothing of its token", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const expired = await token({ tenant: freshTenant(), ttl: -60 });
    const res = await buildApp().request("/scim/v2/Users", { headers: { authorization: `Bearer ${expired}` } }, logging);
    expect(res.status).toBe(401);
    const [line] = lines(log);
    expect(line).toMatchObject({ msg: "request", surface: "scim", status: 401, tenant: null });
    expect(JSON.stringify(log.mock.calls)).not.toContain(expired);
  });

  it("logs a server failure as one more line with the error and its cause", async () => {
    const api = await client(freshTenant("log"), { scope: "admin" });
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    // A D1 that fails the way an outage would (the one fault this test injects).
    const down = new Error("D1_ERROR: network connection lost", { cause: new Error("storage operation exceeded timeout") });
    const failing = {
      prepare: () => {
        throw down;
      },
      batch: () => Promise.reject(down),
      getBookmark: () => null,
    };
    // Every request's D1 work runs in a session of the database (http/d1-session.ts).
    const broken = { ...logging, DB: { ...failing, withSession: () => failing } as unknown as D1Database };
    const res = await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${api.token}` } }, broken);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal", message: "internal error", details: [] } });
    const failed = lines(errors).filter((l) => l.msg === "request failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      tenant: api.tenant,
      route: "/v1/groups",
      error: "Error",
      message: "D1_ERROR: network connection lost",
      cause: "Error: storage operation exceeded timeout",
    });
  });

  it("serves a tenant whose shard is bound while SHARDS names one the deployment lacks, and answers 503 on that one", async () => {
    const api = await client(freshTenant("log"), { scope: "admin" });
    expect((await api.post("/v1/groups", { name: "Kept" })).status).toBe(201);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    // A shard added to SHARDS before its [[d1_databases]] entry: only that shard's tenants may fail, not every request.
    const misnamed = { ...logging, SHARDS: `${env.SHARDS} DB_9` };
    const res = await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${api.token}` } }, misnamed);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { result: { name: string }[] }).result.map((g) => g.name)).toEqual(["Kept"]);
    // A tenant on the unbound shard: 503 in its surface's format, saying why.
    const stranded = freshTenant("log-unbound");
    await placeInDirectory(stranded, "DB_9");
    const refused = await buildApp().request(
      "/v1/groups",
      { headers: { authorization: `Bearer ${await token({ tenant: stranded, scope: "admin" })}` } },
      misnamed,
    );
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({
      error: {
        code: "unavailable",
        message: "shard DB_9 is not a D1 binding of this Worker (SHARDS and [[d1_databases]] in wrangler.toml)",
      },
    });
  });
});

describe("the surface a path belongs to", () => {
  it("is analytics for every analytics route the API describes (its list is kept apart from the routes)", async () => {
    const doc = (await call("GET", "/openapi.json")).json as { paths: Record<string, Record<string, { tags?: string[] }>> };
    const analytics = Object.entries(doc.paths)
      .filter(([, ops]) => Object.values(ops).some((o) => o.tags?.includes("analytics")))
      .map(([path]) => path);
    expect(analytics.length).toBeGreaterThanOrEqual(23);
    expect(analytics.filter((path) => surfaceOf(path) !== "analytics")).toEqual([]);
    expect(surfaceOf("/v1/groups")).toBe("native");
    expect(surfaceOf("/v1/pixel/nothing")).toBe("native");
  });
});
