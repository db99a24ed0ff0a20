import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app";
import { env, freshTenant, token } from "./helpers";

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
  return sign({ iss: "https://issuer.test/", aud: "edge-groups", exp: now + 600, sub: "svc", scope: "groups:read groups:write", ...claims }, jwk, "RS256");
}

async function request(t: string, init: RequestInit = {}) {
  const res = await buildApp().request("/v1/groups", { ...init, headers: { authorization: `Bearer ${t}`, "content-type": "application/json" } }, production);
  return { status: res.status, body: (await res.json()) as any };
}

describe("auth with a JWKS (production)", () => {
  it("accepts an RS256 token from the JWKS with the right issuer and audience", async () => {
    const tenant = freshTenant();
    const t = await rs256({ tenant_id: tenant });
    const created = await request(t, { method: "POST", body: JSON.stringify({ name: "via jwks" }) });
    expect(created.status).toBe(201);
    const row = await env.DB.prepare("SELECT name FROM groups WHERE tenant_id = ?").bind(tenant).first("name");
    expect(row).toBe("via jwks");
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
