// Per-tenant rate limits: each tenant's budgets (interactive, analytics, SCIM) and each API
// key's, per minute, set in config; past one, 429 with Retry-After and RateLimit-* headers
// in the surface's error format, and nothing changes; other tenants and budgets go on.
import { afterEach, describe, expect, it, vi } from "vitest";
import { tenantScoped } from "../src/core/shared/ids";
import { call, client, env, expectError, freshTenant, shardOf } from "./helpers";

/** Start a test at the beginning of a minute's window, so the window cannot roll over mid-test. */
async function freshWindow() {
  const into = Date.now() % 60_000;
  if (into > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - into + 50));
}

async function withLimits(tenant: string, rateLimits: Record<string, number>) {
  await (await shardOf(tenant))
    .prepare("INSERT INTO tenant_config (tenant_id, settings, updated_at) VALUES (?, ?, ?)")
    .bind(tenant, JSON.stringify({ rateLimits }), Date.now())
    .run();
}

describe("rate limits", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lets a tenant's requests through up to its limit a minute, then answers 429 and changes nothing", { timeout: 30_000 }, async () => {
    await freshWindow();
    const tenant = freshTenant("rl");
    await withLimits(tenant, { requestsPerMinute: 3 });
    const api = await client(tenant);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api.post("/v1/groups", { name: `g${i}` });
      expect(res.status).toBe(201);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
      remaining.push(res.headers.get("ratelimit-remaining")!);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await api.post("/v1/groups", { name: "one too many" });
    expectError(refused, 429, "rate_limited");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.json.error.message).toMatch(/interactive limit of 3 requests a minute/);
    const groups = await (await shardOf(tenant))
      .prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?")
      .bind(tenant)
      .first<number>("n");
    expect(groups).toBe(3);

    // Seed 001 spends the same budget, and answers in its own format.
    const seed = await api.get("/resources/groups/v1");
    expect(seed.status).toBe(429);
    expect(seed.json.errors[0]).toMatch(/limit of 3 requests a minute/);
    // SCIM and analytics have budgets of their own; another tenant is untouched.
    const scim = await client(tenant, { scope: "scim" });
    expect((await call("GET", "/scim/v2/Users", { token: scim.token })).status).toBe(200);
    const tracking = await client(tenant, { scope: "group_api" });
    const event = { user_id: "u1", group_id: "acct", timestamp: "2024-01-01T00:00:00Z", traits: { group_type: "Account" } };
    expect((await call("POST", "/api/group", { token: tracking.token, body: [event] })).status).toBe(200);
    const other = await client();
    expect((await other.post("/v1/groups", { name: "mine" })).status).toBe(201);
  });

  it("lets a burst of concurrent requests within the limit through: one lease at a time, not one per request", {
    timeout: 30_000,
  }, async () => {
    await freshWindow();
    const tenant = freshTenant("rl-burst");
    await withLimits(tenant, { requestsPerMinute: 1_000 });
    const api = await client(tenant);
    const answers = await Promise.all(Array.from({ length: 150 }, () => api.get("/v1/groups")));
    expect(answers.map((a) => a.status).filter((s) => s !== 200)).toEqual([]);
  });

  it("counts a request that read the clock just before the minute turned in the new minute: not refused, not past the limit", async () => {
    const counter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`~rate:${freshTenant("rl-turn")}`));
    const minute = Math.floor(Date.now() / 60_000);
    expect(await counter.lease(minute + 1, 10, 25)).toEqual({ granted: 10, remaining: 15, window: minute + 1 });
    // Late, from the minute before: counted in the new one (an IdP push crossing a minute got 429s here).
    expect(await counter.lease(minute, 10, 25)).toEqual({ granted: 10, remaining: 5, window: minute + 1 });
    expect(await counter.lease(minute, 10, 25)).toEqual({ granted: 5, remaining: 0, window: minute + 1 });
    expect(await counter.lease(minute + 1, 10, 25)).toEqual({ granted: 0, remaining: 0, window: minute + 1 });
    // The next minute starts afresh.
    expect(await counter.lease(minute + 2, 10, 25)).toEqual({ granted: 10, remaining: 15, window: minute + 2 });
  });

  it("serves a request that read the clock before the minute turned from the isolate's lease of the new minute", async () => {
    const tenant = freshTenant("rl-turn-isolate");
    await withLimits(tenant, { requestsPerMinute: 1_000 });
    const api = await client(tenant);
    // A minute to come, so the token stays valid and no earlier lease of this tenant's counter exists.
    const turn = (Math.floor(Date.now() / 60_000) + 2) * 60_000;
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(turn + 1_000);
    const first = await api.get("/v1/groups");
    expect(first.status).toBe(200);
    // One lease of 10 (a hundredth of the limit) at the counter, one of them spent.
    expect(first.headers.get("ratelimit-remaining")).toBe("999");
    vi.setSystemTime(turn - 100);
    const late = await api.get("/v1/groups");
    expect(late.status).toBe(200);
    expect(late.headers.get("ratelimit-remaining")).toBe("998");
    // It came out of the same lease: the counter handed out 10 in the new minute, no more.
    const counter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(tenantScoped(tenant, "~rate:interactive")));
    expect(await counter.lease(turn / 60_000, 1, 1_000)).toEqual({ granted: 1, remaining: 989, window: turn / 60_000 });
  });

  it("limits each API key apart from its tenant's budget", { timeout: 30_000 }, async () => {
    await freshWindow();
    const tenant = freshTenant("rl-key");
    await withLimits(tenant, { perApiKeyPerMinute: 2 });
    const admin = await client(tenant, { scope: "admin" });
    const made = await admin.post("/v1/api-keys", { name: "ci", scopes: ["groups:read"] });
    expect(made.status).toBe(201);
    const key = made.json.result.secret as string;
    for (let i = 0; i < 2; i++) expect((await call("GET", "/v1/groups", { token: key })).status).toBe(200);
    const refused = await call("GET", "/v1/groups", { token: key });
    expectError(refused, 429, "rate_limited");
    expect(refused.json.error.message).toMatch(/this API key's limit of 2/);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    // The tenant's own token still goes through.
    expect((await admin.get("/v1/groups")).status).toBe(200);
  });

  it("answers SCIM past its own budget in SCIM's error format", { timeout: 30_000 }, async () => {
    await freshWindow();
    const tenant = freshTenant("rl-scim");
    await withLimits(tenant, { scimPerMinute: 1 });
    const scim = await client(tenant, { scope: "scim" });
    expect((await call("GET", "/scim/v2/Users", { token: scim.token })).status).toBe(200);
    const refused = await call("GET", "/scim/v2/Users", { token: scim.token });
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "429" });
    expect(refused.headers.get("retry-after")).toBeTruthy();
  });

  it("takes its limits from config, where they are validated", async () => {
    const admin = await client(freshTenant("rl-config"), { scope: "admin" });
    const set = await admin.patch("/v1/config", { rateLimits: { scimPerMinute: 500 } });
    expect(set.status).toBe(200);
    expect(set.json.result.rateLimits).toEqual({
      requestsPerMinute: 60_000,
      analyticsPerMinute: 60_000,
      scimPerMinute: 500,
      perApiKeyPerMinute: 30_000,
    });
    expectError(await admin.patch("/v1/config", { rateLimits: { scimPerMinute: 0 } }), 400, "invalid");
    expectError(await admin.patch("/v1/config", { rateLimits: { perSecond: 5 } }), 400, "invalid");
  });
});
