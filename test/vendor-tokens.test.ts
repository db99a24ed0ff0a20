import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app";
import { call, client, env, freshTenant, shardOf, token, vendorToken } from "./helpers";

// Vendor tokens: the deployment's own issuer, audience and key; never a tenant's token.
const groupsOf = async (tenant: string) =>
  (await shardOf(tenant))
    .prepare("SELECT name FROM groups WHERE tenant_id = ? ORDER BY name")
    .bind(tenant)
    .all()
    .then((r) => r.results.map((g) => g.name));

describe("vendor tokens", () => {
  it("cannot be minted by a tenant: its own key with the vendor audience and issuer, any scope, is refused", async () => {
    const victim = await client(freshTenant("victim"), { scope: "admin" });
    await victim.post("/v1/groups", { name: "Victim secret" });
    const now = Math.floor(Date.now() / 1000);
    const forged = [
      // signed with the tenant key, claiming the vendor audience and issuer
      await token({ tenant: "attacker", scope: "admin", extra: { aud: env.VENDOR_AUDIENCE, iss: env.VENDOR_ISSUER } }),
      // a scope string asking for more
      await token({ tenant: "attacker", scope: "admin vendor vendor:admin superuser" }),
      // the vendor's claims, signed with the tenant key
      await sign(
        { iss: env.VENDOR_ISSUER, aud: env.VENDOR_AUDIENCE, sub: "x", scope: "admin", exp: now + 60 },
        env.AUTH_DEV_SECRET!,
        "HS256",
      ),
    ];
    for (const t of forged) {
      const res = await call("GET", "/resources/groups/v1", { token: t, headers: { "frontegg-tenant-id": victim.tenant } });
      expect([401, 403]).toContain(res.status);
      expect(res.text).not.toContain("Victim secret");
      const planted = await call("POST", "/resources/groups/v1", {
        token: t,
        body: { name: "planted" },
        headers: { "frontegg-tenant-id": victim.tenant },
      });
      expect([401, 403]).toContain(planted.status);
    }
    expect(await groupsOf(victim.tenant)).toEqual(["Victim secret"]);
  });

  it("are off unless the deployment configures them, and refused when configured halfway", async () => {
    const victim = await client(freshTenant("victim"), { scope: "admin" });
    await victim.post("/v1/groups", { name: "Quiet" });
    const vendor = await vendorToken();
    const off = { ...env, VENDOR_DEV_SECRET: undefined, VENDOR_ISSUER: undefined, VENDOR_AUDIENCE: undefined };
    const halfway = { ...env, VENDOR_AUDIENCE: undefined };
    for (const config of [off, halfway]) {
      const res = await buildApp().request(
        "/resources/groups/v1",
        { headers: { authorization: `Bearer ${vendor}`, "frontegg-tenant-id": victim.tenant } },
        config,
      );
      expect(res.status).toBe(401);
    }
    // Tenant tokens still work with vendor auth configured halfway.
    const own = await buildApp().request("/v1/groups", { headers: { authorization: `Bearer ${victim.token}` } }, halfway);
    expect(own.status).toBe(200);
  });

  it("act with their own scopes in the tenant they name, on the seed-001 surface only", async () => {
    const tenant = freshTenant("served");
    const reader = await vendorToken({ scope: "groups:read" });
    const headers = { "frontegg-tenant-id": tenant };
    expect((await call("GET", "/resources/groups/v1", { token: reader, headers })).status).toBe(200);
    expect((await call("POST", "/resources/groups/v1", { token: reader, headers, body: { name: "no" } })).status).toBe(403);
    expect((await call("GET", "/resources/groups/v1", { token: reader, headers: { "frontegg-tenant-id": "not a tenant!" } })).status).toBe(
      400,
    );
    for (const path of ["/v1/groups", "/scim/v2/Groups", "/kaizala/v1/groups"]) {
      const res = await call("GET", path, { token: await vendorToken(), headers });
      expect(res.status, path).toBe(403);
    }
    expect(await groupsOf(tenant)).toEqual([]);
  });
});
