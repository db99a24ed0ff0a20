// Every registered route of every surface, walked from the app's own route list, so a
// route added later is covered without editing this file. For each route:
// - no credential → 401;
// - (in isolation-cross-tenant-1 to -4, a quarter of the routes each) another tenant's
//   admin JWT and admin API key (with and without headers naming the victim, and with the
//   victim's own If-Match / If-None-Match tag, Idempotency-Key and D1 bookmark; and an
//   admin key and an analytics write key where an SDK puts one in the body or URL) → the
//   victim's data unchanged and never in the answer; a route that names a victim's
//   resource by id → 403 or 404;
// - a vendor token on a surface that cannot name a tenant → refused;
// - a credential of the victim without the route's scope → 403.
// The victim lives on shard DB_2; the attackers, one per route, on DB, DB_2 and DB_3 in turn.
// isolation/fixture.ts says why the cross-tenant walk is split.
import { beforeAll, describe, expect, it } from "vitest";
import { client, vendorToken } from "./helpers";
import {
  body,
  CROSS_TENANT_PARTS,
  keyElsewhere,
  NAMING_VICTIM,
  routes,
  routesOfPart,
  send,
  setUpVictim,
  snapshot,
  victim,
} from "./isolation/fixture";

beforeAll(setUpVictim);

describe("every route of every surface keeps tenants apart", () => {
  it("walks the app's own route list (so new routes are covered)", () => {
    const listed = routes().map((r) => r.key);
    expect(listed.length).toBeGreaterThan(80);
    for (const key of [
      "GET /v1/groups",
      "POST /v1/api-keys",
      "POST /resources/groups/v1",
      "GET /scim/v2/Groups/:id",
      "POST /v1/batch",
      "POST /hooks/okta/token",
      "GET /kaizala/v1/groups/:groupId",
    ]) {
      expect(listed).toContain(key);
    }
    // A write route without a sample body would be refused as invalid before any tenant check.
    const missing = routes().filter((r) => r.method !== "GET" && r.method !== "DELETE" && body(r.key) === undefined);
    expect(missing.map((r) => r.key)).toEqual([]);
    // The routes an analytics SDK may send a key to in the body or URL are walked that way too: every one of them.
    const elsewhere = routes().filter((r) => keyElsewhere(r, "key") !== undefined);
    expect(elsewhere.map((r) => r.key)).toEqual(
      expect.arrayContaining(["POST /v1/batch", "POST /v1/g", "POST /beacon/v1/batch", "GET /v1/pixel/alias"]),
    );
    expect(elsewhere).toHaveLength(2 * 7 + 1 + 6); // Segment's seven routes twice (long and one-letter paths), the beacon, six pixels
    // The cross-tenant files' parts, together, are every route, once.
    const parts = Array.from({ length: CROSS_TENANT_PARTS }, (_, p) => routesOfPart(p + 1).map((r) => r.key));
    expect(parts.flat().sort()).toEqual(listed.sort());
  });

  it("answers 401 to a request with no credential, on every route", async () => {
    for (const route of routes()) {
      const res = await send(route, undefined);
      expect(res.status, `${route.key}: ${res.text}`).toBe(401);
    }
  });

  it("refuses a vendor token on every surface that cannot name a tenant", async () => {
    const vendor = await vendorToken({ scope: "admin" });
    const before = await snapshot(victim.admin.tenant);
    for (const route of routes()) {
      if (route.path.startsWith("/resources/groups")) continue; // seed 001 names its tenant: the vendor's one tenant surface
      if (route.path.startsWith("/vendor/")) continue; // the operator's own routes (placement, moves): tested in shards.test.ts
      const res = await send(route, vendor, NAMING_VICTIM());
      expect([401, 403], `${route.key}: ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
    }
    expect(await snapshot(victim.admin.tenant)).toBe(before);
  });

  it("answers 403 to the victim's own credential without the route's scope, on every route", async () => {
    const scopeless = (await client(victim.admin.tenant, { scope: "" })).token;
    // A hook takes a hook credential: the victim's API key whose scope is not hooks.
    const readKey = (await victim.admin.post("/v1/api-keys", { name: "no hooks", scopes: ["groups:read"] })).json.result.secret;
    const before = await snapshot(victim.admin.tenant);
    for (const route of routes()) {
      const res = await send(route, route.path.startsWith("/hooks/") ? readKey : scopeless);
      expect(res.status, `${route.key}: ${res.text.slice(0, 200)}`).toBe(403);
    }
    expect(await snapshot(victim.admin.tenant)).toBe(before);
  });
});
