import { sign } from "hono/jwt";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildApp } from "../src/app";
import { env, freshTenant, shardOf, token } from "./helpers";

// The production path: RS256 tokens verified against a JWKS, issuer and audience checked.
const production = {
  ...env,
  AUTH_DEV_SECRET: undefined,
  AUTH_JWKS_URL: env.TEST_JWKS_URL,
  AUTH_ISSUER: "https://issuer.test/",
  AUTH_AUDIENCE: "edge-groups",
};

async function rs256(claims: Record<string, unknown>) {
  const jwk = JSON.parse(env.TEST_PRIVATE_JWK);
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { iss: "https://issuer.test/", aud: "edge-groups", exp: now + 600, sub: "svc", scope: "groups:read groups:write", ...claims },
    jwk,
    "RS256",
  );
}

async function request(t: string, init: RequestInit = {}) {
  const res = await buildApp().request(
    "/v1/groups",
    { ...init, headers: { authorization: `Bearer ${t}`, "content-type": "application/json" } },
    production,
  );
  return { status: res.status, body: (await res.json()) as any };
}

describe("auth with a JWKS (production)", () => {
  it("accepts an RS256 token from the JWKS with the right issuer and audience", async () => {
    const tenant = freshTenant();
    const t = await rs256({ tenant_id: tenant });
    const created = await request(t, { method: "POST", body: JSON.stringify({ name: "via jwks" }) });
    expect(created.status).toBe(201);
    const row = await (await shardOf(tenant)).prepare("SELECT name FROM groups WHERE tenant_id = ?").bind(tenant).first("name");
    expect(row).toBe("via jwks");
  });

  it("takes an RS256 token minted by a clock up to a minute ahead, and refuses one further ahead", async () => {
    const now = Math.floor(Date.now() / 1000);
    const ahead = await request(await rs256({ tenant_id: freshTenant(), iat: now + 45, nbf: now + 45 }));
    expect(ahead.status, JSON.stringify(ahead.body)).toBe(200);
    const early = await request(await rs256({ tenant_id: freshTenant(), iat: now + 300 }));
    expect(early.status).toBe(401);
    expect(early.body.error.message).toBe("token is not valid yet");
  });

  it("refuses a wrong audience, a wrong issuer, and the dev HS256 token (401)", async () => {
    const tenant = freshTenant();
    for (const t of [
      await rs256({ tenant_id: tenant, aud: "someone-else" }),
      await rs256({ tenant_id: tenant, iss: "https://evil.test/" }),
      await token({ tenant }),
    ]) {
      const res = await request(t);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
    }
  });
});

const fetchCounts = async () =>
  (await (await fetch("https://issuer.test/fetch-counts")).json()) as { rotating: number; down: number; flaky: number };

describe("auth with a JWKS: failing closed and key rotation", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("with AUTH_JWKS_URL but no AUTH_ISSUER or AUTH_AUDIENCE, every request is 401 'auth is misconfigured'", async () => {
    const tenant = freshTenant();
    // A token the provider issued for some other application: before, it was accepted for its tenant_id claim.
    const t = await rs256({ tenant_id: tenant, aud: "another-app", iss: "https://issuer.test/" });
    for (const config of [{ AUTH_ISSUER: undefined }, { AUTH_AUDIENCE: undefined }, { AUTH_ISSUER: undefined, AUTH_AUDIENCE: undefined }]) {
      const res = await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${t}` } }, { ...production, ...config });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.message).toMatch(/auth is misconfigured/);
    }
    const n = await (await shardOf(tenant)).prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?").bind(tenant).first("n");
    expect(n).toBe(0);
  });

  it("refetches the key set once for an unknown kid (at most once a minute), so a rotation does not lock users out", async () => {
    const rotating = { ...production, AUTH_JWKS_URL: env.TEST_ROTATING_JWKS_URL };
    const tenant = freshTenant();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: "https://issuer.test/", aud: "edge-groups", exp: now + 600, sub: "svc", scope: "groups:read", tenant_id: tenant };
    const oldKey = await sign(claims, JSON.parse(env.TEST_PRIVATE_JWK), "RS256");
    const newKey = await sign(claims, JSON.parse(env.TEST_ROTATED_PRIVATE_JWK), "RS256");
    const get = async (t: string) =>
      (await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${t}` } }, rotating)).status;
    const before = (await fetchCounts()).rotating;

    expect(await get(oldKey)).toBe(200); // first fetch: only the old key is published
    expect(await get(newKey)).toBe(401); // unknown kid, but the set is seconds old: no refetch
    expect((await fetchCounts()).rotating).toBe(before + 1);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await get(newKey)).toBe(200); // a minute on: one refetch finds the rotated key
    expect(await get(newKey)).toBe(200);
    expect(await get(oldKey)).toBe(200);
    expect((await fetchCounts()).rotating).toBe(before + 2);
  });

  it("remembers a failed JWKS fetch briefly instead of refetching on every request", async () => {
    const down = { ...production, AUTH_JWKS_URL: env.TEST_DOWN_JWKS_URL };
    const t = await rs256({ tenant_id: freshTenant() });
    const before = (await fetchCounts()).down;
    for (let i = 0; i < 5; i++) {
      const res = await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${t}` } }, down);
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.message).toMatch(/could not fetch the signing keys/);
    }
    expect((await fetchCounts()).down).toBe(before + 1);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11_000);
    await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${t}` } }, down);
    expect((await fetchCounts()).down).toBe(before + 2);
  });

  it("keeps verifying with the keys it knows when a later JWKS fetch fails (an outage at the provider locks nobody out)", async () => {
    const flaky = { ...production, AUTH_JWKS_URL: env.TEST_FLAKY_JWKS_URL };
    const t = await rs256({ tenant_id: freshTenant(), exp: Math.floor(Date.now() / 1000) + 3600 }); // outlives the 11 minutes below
    const get = async () => (await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${t}` } }, flaky)).status;
    const before = (await fetchCounts()).flaky;
    expect(await get()).toBe(200); // the first fetch answers
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11 * 60_000); // the kept set is stale: refetched, and the refetch fails
    expect(await get()).toBe(200);
    expect(await get()).toBe(200); // within 10 s of the failure: not fetched again
    expect((await fetchCounts()).flaky).toBe(before + 2);
  });
});
