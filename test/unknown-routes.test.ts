// A method a path does not take is 405 with Allow naming those it does, in the surface's own
// error format; a path no route has is 404; neither changes anything, and neither is answered
// before the credential is checked. Walked over the served OpenAPI document, so a route added
// later is covered, and Allow must agree with what the document says each path takes.
import { describe, expect, it } from "vitest";
import { call, client, surfacesWithErrors, vendorToken } from "./helpers";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/**
 * The analytics routes (Segment's under /v1, also at analytics.js's one-letter paths, RudderStack's beacon: POST only;
 * Segment's tracking pixel: GET only), each with its own answer below.
 */
const ANALYTICS =
  /^\/(v1\/(batch|group|identify|track|page|screen|alias|[bgitpsa])|v1\/pixel\/(group|identify|track|page|screen|alias)|beacon\/v1\/batch|api\/group|group)$/;

/**
 * Each path of the served document under this prefix (ids filled in), with the methods it
 * takes: those of every documented path it matches (seed 001's /v1/config is also a
 * /v1/{groupId}, whose PATCH and DELETE would take it as a group id).
 */
async function pathsUnder(prefix: string, which: "analytics" | "others" = "others") {
  const doc = (await call("GET", "/openapi.json")).json as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(doc.paths).map(([path, ops]) => ({
    pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}$`),
    methods: METHODS.filter((m) => m.toLowerCase() in ops),
  }));
  return Object.keys(doc.paths)
    .filter((path) => path.startsWith(prefix) && ANALYTICS.test(path) === (which === "analytics"))
    .map((template) => {
      const path = template.replace(/\{\w+\}/g, "x");
      const matching = documented.filter((d) => d.pattern.test(path));
      return { path, takes: METHODS.filter((m) => matching.some((d) => d.methods.includes(m))) };
    });
}

describe("a method or a path no route takes", () => {
  it("is 405 with Allow on every surface's paths, in the surface's format, and changes nothing", async () => {
    const api = await client(undefined, { scope: "admin" });
    const vendor = await vendorToken();
    const surfaces = await surfacesWithErrors(api, "method_not_allowed", 405);
    let checked = 0;
    for (const [prefix, headers, format] of surfaces) {
      const paths = await pathsUnder(prefix);
      expect(paths.length, prefix).toBeGreaterThan(0);
      for (const { path, takes } of paths) {
        const other = METHODS.find((m) => !takes.includes(m));
        if (!other) continue;
        const res = await call(other, path.replace("/tenants/x", `/tenants/${api.tenant}`), {
          // A body that would pass where one is read, so only the method can refuse it.
          body:
            other === "GET"
              ? undefined
              : { name: "Wrong method", displayName: "Wrong method", user_ids: ["u1"], to: "DB_2", shard: "DB_2" },
          headers,
        });
        const where = `${other} ${path}: ${res.text}`;
        expect(res.status, where).toBe(405);
        expect(res.headers.get("allow"), where).toBe([...takes, ...(takes.includes("GET") ? ["HEAD"] : [])].join(", "));
        expect(res.text, where).toContain(`it takes ${res.headers.get("allow")}`);
        format(res.json);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(45);
    expect((await api.get("/v1/events")).json.result).toEqual([]);
    expect((await api.get("/v1/groups")).json.result).toEqual([]);
    expect((await call("GET", `/vendor/tenants/${api.tenant}/placement`, { token: vendor })).json.move).toBeNull();
  });

  it("is 405 with Allow on the analytics routes (POST; GET for the pixel), in their formats, after the credential", async () => {
    const api = await client(undefined, { scope: "admin" });
    const analytics = await pathsUnder("/", "analytics");
    const types = ["alias", "group", "identify", "page", "screen", "track"];
    expect(analytics.map((p) => p.path).sort()).toEqual(
      [
        "/api/group",
        "/group",
        "/beacon/v1/batch",
        ...[...types, "batch"].flatMap((t) => [`/v1/${t}`, `/v1/${t[0]}`]),
        ...types.map((t) => `/v1/pixel/${t}`),
      ].sort(),
    );
    for (const { path, takes } of analytics) {
      expect(takes, path).toEqual(path.startsWith("/v1/pixel/") ? ["GET"] : ["POST"]);
      const allow = takes.includes("GET") ? "GET, HEAD" : "POST";
      for (const method of ["GET", "POST", "PUT", "DELETE"].filter((m) => !takes.includes(m))) {
        const res = await call(method, path, { token: api.token });
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(405);
        expect(res.headers.get("allow")).toBe(allow);
        expect(res.json).toMatchObject({ success: false, message: `${method} is not allowed on ${path}; it takes ${allow}` });
        expect((await call(method, path)).status, `${method} ${path} without a credential`).toBe(401);
      }
    }
    expect((await api.get("/v1/groups")).status).toBe(200);
    expect((await api.get("/v1/events")).json.result).toEqual([]);
  });

  it("is 405 with Allow: POST on the Okta token hook, in Okta's error format, after its secret", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await call(method, "/hooks/okta/token", { headers: { authorization: "hook-secret-for-tests" } });
      expect(res.status, `${method}: ${res.text}`).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(res.json).toEqual({ error: { errorSummary: `${method} is not allowed on /hooks/okta/token; it takes POST` } });
      expect((await call(method, "/hooks/okta/token")).status, `${method} without the secret`).toBe(401);
    }
  });

  it("is 404 for a path no route has, and 401 before either without a credential", async () => {
    const api = await client(undefined, { scope: "admin" });
    const unknown = await api.get("/v1/groupz");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("not_found");
    expect(unknown.headers.get("allow")).toBeNull();
    expect((await call("GET", "/scim/v2/Nothing", { token: api.token })).json).toMatchObject({ status: "404" });
    expect((await call("PATCH", "/v1/groups")).status).toBe(401);
    expect((await call("PATCH", "/scim/v2/Users")).status).toBe(401);
  });
});
