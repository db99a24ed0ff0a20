// Every surface but the analytics one reads JSON bodies only: a body sent as anything else
// (curl -d sends application/x-www-form-urlencoded, a fetch of a string sends text/plain)
// is a 415 in the surface's error format that changes nothing, on every route that takes a
// body (walked from the served OpenAPI document, so a route added later is covered).
import { describe, expect, it } from "vitest";
import { call, client, expectError, surfacesWithErrors, vendorToken } from "./helpers";

/** The analytics routes under /v1 (and analytics.js's one-letter paths) take any Content-Type, as Segment's SDKs send text/plain. */
const SEGMENT = /^\/v1\/(batch|group|identify|track|page|screen|alias|[bgitpsa])$/;

/** The routes of the served document that take a JSON body, under this prefix, their path ids filled in. */
async function bodyRoutes(prefix: string) {
  const doc = (await call("GET", "/openapi.json")).json as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.requestBody?.content["application/json"] && path.startsWith(prefix) && !SEGMENT.test(path))
      .map(([method]) => ({ method: method.toUpperCase(), path: path.replace(/\{\w+\}/g, "x") })),
  );
}
const nativeBodyRoutes = () => bodyRoutes("/v1/");

describe("native API: a body that is not sent as JSON", () => {
  it("is a 415 on every route that takes a body, and changes nothing", async () => {
    const api = await client(undefined, { scope: "admin" });
    const routes = await nativeBodyRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const r of routes) {
      for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
        const res = await call(r.method, r.path, {
          token: api.token,
          rawBody: '{"name":"Sent as text"}',
          headers: { "content-type": type },
        });
        expectError(res, 415, "unsupported_media_type");
        expect(res.json.error.message, `${r.method} ${r.path}`).toContain("Content-Type: application/json");
      }
    }
    // Every change is an event: none means nothing was written.
    expect((await api.get("/v1/events")).json.result).toEqual([]);
    expect((await api.get("/v1/groups")).json.result).toEqual([]);
  });

  it("is still JSON with a charset or a +json type", async () => {
    const api = await client(undefined, { scope: "admin" });
    const sent: [type: string, name: string][] = [
      ["application/json; charset=utf-8", "With charset"],
      ["application/merge-patch+json", "Merge patch"],
    ];
    for (const [type, name] of sent) {
      const res = await call("POST", "/v1/groups", {
        token: api.token,
        rawBody: JSON.stringify({ name }),
        headers: { "content-type": type },
      });
      expect(res.status, res.text).toBe(201);
    }
    expect((await api.get("/v1/groups")).json.result.map((g: { name: string }) => g.name).sort()).toEqual(["Merge patch", "With charset"]);
  });

  it("keeps no Idempotency-Key answer, so the corrected retry with the same key runs", async () => {
    const api = await client(undefined, { scope: "admin" });
    const body = JSON.stringify({ name: "Retried" });
    const headers = { "idempotency-key": "create-retried" };
    const refused = await call("POST", "/v1/groups", {
      token: api.token,
      rawBody: body,
      headers: { ...headers, "content-type": "text/plain" },
    });
    expectError(refused, 415, "unsupported_media_type");
    const created = await call("POST", "/v1/groups", {
      token: api.token,
      rawBody: body,
      headers: { ...headers, "content-type": "application/json" },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get("idempotent-replayed")).toBeNull();
    const replayed = await call("POST", "/v1/groups", {
      token: api.token,
      rawBody: body,
      headers: { ...headers, "content-type": "application/json" },
    });
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(replayed.json.result.group_id).toBe(created.json.result.group_id);
    expect((await api.get("/v1/groups")).json.result.map((g: { name: string }) => g.name)).toEqual(["Retried"]);
  });

  it("is a 415 in each other surface's own error format: SCIM, seed 001, seed 004 and the operator's routes", async () => {
    const api = await client(undefined, { scope: "admin" });
    const vendor = await vendorToken();
    const surfaces = (await surfacesWithErrors(api, "unsupported_media_type", 415)).filter(([prefix]) => prefix !== "/v1/");
    for (const [prefix, headers, format] of surfaces) {
      const routes = await bodyRoutes(prefix);
      expect(routes.length, prefix).toBeGreaterThan(0);
      for (const r of routes) {
        // A body whose fields would pass, so only its Content-Type can refuse it.
        const res = await call(r.method, r.path.replace("/tenants/x/", `/tenants/${api.tenant}/`), {
          rawBody: JSON.stringify({ displayName: "Sent as text", name: "Sent as text", to: "DB_2", shard: "DB_2" }),
          headers: { ...headers, "content-type": "text/plain" },
        });
        expect(res.status, `${r.method} ${r.path}: ${res.text}`).toBe(415);
        expect(res.text).toContain("Content-Type: application/json");
        format(res.json);
      }
    }
    // Nothing was written, nor did the tenant move.
    expect((await api.get("/v1/events")).json.result).toEqual([]);
    const placement = await call("GET", `/vendor/tenants/${api.tenant}/placement`, { token: vendor });
    expect(placement.json.move).toBeNull();
  });

  it("is a 415 when a body comes without any Content-Type, and none without a body", async () => {
    const api = await client(undefined, { scope: "admin" });
    const res = await call("POST", "/scim/v2/Groups", { token: api.token, rawBody: new TextEncoder().encode('{"displayName":"Raw"}') });
    expect(res.status, res.text).toBe(415);
    const bare = await call("DELETE", `/resources/groups/v1/x/users`, { token: api.token, headers: { "frontegg-tenant-id": api.tenant } });
    expect(bare.status, bare.text).toBe(400);
    expect((await api.get("/v1/events")).json.result).toEqual([]);
  });
});
