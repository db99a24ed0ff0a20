import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app";
import { call, client, env, expectError, freshTenant, shardOf, token } from "./helpers";

describe("auth", () => {
  it("refuses a request without a token (401)", async () => {
    expectError(await call("GET", "/v1/groups"), 401, "unauthorized");
    expectError(await call("GET", "/v1/groups", { headers: { authorization: "Basic abc" } }), 401, "unauthorized");
  });

  it("refuses an expired token (401)", async () => {
    const t = await token({ tenant: freshTenant(), ttl: -60 });
    const res = await call("GET", "/v1/groups", { token: t });
    expectError(res, 401, "unauthorized");
    expect(res.json.error.message).toContain("expired");
    // An exp that is not a number is not called expired: the message says what is wrong with it.
    const textual = await token({ tenant: freshTenant(), extra: { exp: String(Math.floor(Date.now() / 1000) + 600) } });
    const refused = await call("GET", "/v1/groups", { token: textual });
    expectError(refused, 401, "unauthorized");
    expect(refused.json.error.message).toBe("token exp must be a number (seconds since the epoch)");
  });

  it("takes a token from an issuer whose clock runs up to a minute ahead, and refuses one further ahead (401)", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const claim of ["iat", "nbf"]) {
      // Minted "in the future" by a provider whose clock is 30 s fast: valid, as its provider meant it.
      const fresh = await token({ tenant: freshTenant(), extra: { [claim]: now + 30 } });
      expect((await call("GET", "/v1/groups", { token: fresh })).status, claim).toBe(200);
      const early = await token({ tenant: freshTenant(), extra: { [claim]: now + 120 } });
      const refused = await call("GET", "/v1/groups", { token: early });
      expectError(refused, 401, "unauthorized");
      expect(refused.json.error.message).toBe("token is not valid yet");
      const textual = await token({ tenant: freshTenant(), extra: { [claim]: String(now) } });
      expect((await call("GET", "/v1/groups", { token: textual })).json.error.message).toBe(
        `token ${claim} must be a number (seconds since the epoch)`,
      );
    }
    // exp has no leeway: a token that expired a second ago is refused.
    const expired = await token({ tenant: freshTenant(), ttl: -1 });
    expect((await call("GET", "/v1/groups", { token: expired })).json.error.message).toBe("token has expired");
  });

  it("refuses a token signed with another secret (401)", async () => {
    const t = await token({ tenant: freshTenant(), secret: "some-other-secret-0123456789abcdef" });
    const res = await call("GET", "/v1/groups", { token: t });
    expectError(res, 401, "unauthorized");
    expect(res.json.error.message).toContain("signature");
  });

  it("refuses a garbage token and one without tenant_id (401)", async () => {
    expectError(await call("GET", "/v1/groups", { token: "not.a.jwt" }), 401, "unauthorized");
    const t = await token({ tenant: freshTenant(), extra: { tenant_id: undefined } });
    expectError(await call("GET", "/v1/groups", { token: t }), 401, "unauthorized");
  });

  it("needs groups:write to write and groups:read to read (403); admin implies both", async () => {
    const tenant = freshTenant();
    const reader = await client(tenant, { scope: "groups:read" });
    expectError(await reader.post("/v1/groups", { name: "x" }), 403, "forbidden");
    expect((await reader.get("/v1/groups")).status).toBe(200);
    const writer = await client(tenant, { scope: "groups:write" });
    expectError(await writer.get("/v1/groups"), 403, "forbidden");
    const admin = await client(tenant, { scope: "admin" });
    expect((await admin.post("/v1/groups", { name: "x" })).status).toBe(201);
    expect((await admin.get("/v1/groups")).json.result).toHaveLength(1);
    const n = await (await shardOf(tenant)).prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?").bind(tenant).first("n");
    expect(n).toBe(1);
  });

  it("with no auth configured, every request is 401 saying so (never open)", async () => {
    const app = buildApp();
    const bare = { ...env, AUTH_DEV_SECRET: undefined, AUTH_JWKS_URL: undefined };
    const t = await token({ tenant: freshTenant() });
    const res = await app.request("/v1/groups", { headers: { authorization: `Bearer ${t}` } }, bare);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain("not configured");
  });

  it("answers an unknown /v1 route with the native 404 format", async () => {
    const api = await client();
    const res = await api.get("/v1/no-such-thing");
    expectError(res, 404, "not_found");
    expect(res.json.error.message).toContain("/v1/no-such-thing");
  });

  it("serves /openapi.json and /docs without a token, generated from the routes", async () => {
    const spec = await call("GET", "/openapi.json");
    expect(spec.status).toBe(200);
    expect(spec.json.openapi).toBe("3.1.0");
    expect(Object.keys(spec.json.paths)).toEqual(
      expect.arrayContaining([
        "/v1/groups",
        "/v1/groups/{group_id}",
        "/v1/groups/{group_id}/members",
        "/v1/users/{user_id}/groups",
        "/v1/users/{user_id}/claims",
      ]),
    );
    expect(spec.json.components.schemas.CreateGroup.properties.name.maxLength).toBe(200);
    const docs = await call("GET", "/docs");
    expect(docs.status).toBe(200);
    expect(docs.text).toContain("/openapi.json");
  });

  it("sends security headers on /docs: a CSP that allows only Swagger UI's pinned assets and the page's own nonce'd script", async () => {
    const docs = await call("GET", "/docs");
    const csp = docs.headers.get("content-security-policy") ?? "";
    const nonce = csp.match(/'nonce-([^']+)'/)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'nonce-[^']+' https:\/\/cdn\.jsdelivr\.net/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    // Every inline script carries this response's nonce; every external one is the pinned CDN asset.
    const scripts = [...docs.text.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.length).toBe(2);
    for (const attrs of scripts) {
      if (attrs.includes("src=")) expect(attrs).toMatch(/src="https:\/\/cdn\.jsdelivr\.net\/npm\/swagger-ui-dist@\d+\.\d+\.\d+\//);
      else expect(attrs).toContain(`nonce="${nonce}"`);
    }
    expect(docs.headers.get("x-frame-options")).toBe("DENY");
    expect(docs.headers.get("x-content-type-options")).toBe("nosniff");
    expect(docs.headers.get("strict-transport-security")).toMatch(/max-age=/);
    // A new nonce for every response.
    const again = await call("GET", "/docs");
    expect(again.headers.get("content-security-policy")).not.toContain(nonce!);
  });
});

describe("tenant isolation", () => {
  it("tenant B cannot read, change, delete or add members to tenant A's group (404), and A is unchanged", async () => {
    const a = await client();
    const b = await client();
    const g = (await a.post("/v1/groups", { name: "A's group", custom_data: { k: 1 } })).json.result;
    await a.post(`/v1/groups/${g.group_id}/members`, { user_ids: ["alice"] });
    await a.put("/v1/users/alice", { email: "alice@a.example" });

    expectError(await b.get(`/v1/groups/${g.group_id}`), 404, "not_found");
    expectError(await b.patch(`/v1/groups/${g.group_id}`, { name: "hijacked" }), 404, "not_found");
    expectError(await b.put(`/v1/groups/${g.group_id}`, { custom_data: {} }), 404, "not_found");
    expectError(await b.del(`/v1/groups/${g.group_id}`), 404, "not_found");
    expectError(await b.post(`/v1/groups/${g.group_id}/members`, { user_ids: ["mallory"] }), 404, "not_found");
    expectError(await b.del(`/v1/groups/${g.group_id}/members`, { user_ids: ["alice"] }), 404, "not_found");
    expectError(await b.get(`/v1/groups/${g.group_id}/members`), 404, "not_found");
    expectError(await b.get("/v1/users/alice"), 404, "not_found");
    expectError(await b.get("/v1/users/alice/groups"), 404, "not_found");
    expectError(await b.get("/v1/users/alice/claims"), 404, "not_found");
    expect((await b.get("/v1/groups")).json.result).toEqual([]);

    const after = await a.get(`/v1/groups/${g.group_id}`);
    expect(after.json.result).toMatchObject({ group_id: g.group_id, name: "A's group", custom_data: { k: 1 }, member_count: 1 });
    const members = await a.get(`/v1/groups/${g.group_id}/members`);
    expect(members.json.result.map((u: { user_id: string }) => u.user_id)).toEqual(["alice"]);
    const rows = await (await shardOf(b.tenant)).prepare("SELECT count(*) AS n FROM users WHERE tenant_id = ?").bind(b.tenant).first("n");
    expect(rows).toBe(0);
  });
});

describe("verified-token cache", () => {
  it("never answers from the cache past a token's expiry", async () => {
    const tenant = freshTenant("exp");
    const t = await token({ tenant, ttl: 2 });
    expect((await call("GET", "/v1/groups", { token: t })).status).toBe(200);
    expect((await call("GET", "/v1/groups", { token: t })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    const late = await call("GET", "/v1/groups", { token: t });
    expect(late.status).toBe(401);
    expect(late.json.error.message).toMatch(/expired/);
  });
});
