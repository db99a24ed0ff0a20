import { describe, expect, it } from "vitest";
import committed from "../openapi.json";
import readme from "../README.md?raw";
import { buildApp } from "../src/app";
import { call } from "./helpers";

describe("the OpenAPI document", () => {
  it("is what openapi.json holds (after a change to a route, run npm run openapi and commit both files)", async () => {
    const served = await call("GET", "/openapi.json");
    expect(served.status).toBe(200);
    expect(served.json).toEqual(committed);
  });

  it("describes every registered route of every surface, each with an operationId and a summary", async () => {
    const doc = (await call("GET", "/openapi.json")).json as {
      paths: Record<string, Record<string, { operationId?: string; summary?: string }>>;
    };
    const PUBLIC = new Set(["GET /healthz", "GET /openapi.json", "GET /docs"]);
    const undescribed: string[] = [];
    for (const r of buildApp().routes) {
      if (r.method === "ALL" || r.path.endsWith("*") || PUBLIC.has(`${r.method} ${r.path}`)) continue;
      const path = r.path.replace(/:(\w+)/g, "{$1}");
      const op = doc.paths[path]?.[r.method.toLowerCase()];
      if (!op?.operationId || !op.summary) undescribed.push(`${r.method} ${r.path}`);
    }
    expect(undescribed).toEqual([]);
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(80);
    // README states the count: it must stay true when a route is added.
    expect(readme).toContain(`(${ids.length} operations,`);
  });

  it("declares the conditional headers on exactly the routes whose middleware reads them, and the others where they apply", async () => {
    type Op = { parameters?: { name: string; in: string }[] };
    const doc = (await call("GET", "/openapi.json")).json as { paths: Record<string, Record<string, Op>> };
    const headers = (method: string, path: string) =>
      (doc.paths[path]?.[method]?.parameters ?? []).filter((p) => p.in === "header").map((p) => p.name);
    const declaring = (name: string) =>
      Object.entries(doc.paths)
        .flatMap(([path, ops]) =>
          Object.keys(ops)
            .filter((m) => headers(m, path).includes(name))
            .map((m) => `${m} ${path}`),
        )
        .sort();
    // The routes test/conditional-requests.test.ts shows honouring them (SCIM checks If-Match in its own routes).
    const g = "/v1/groups/{group_id}";
    const f = "/resources/groups/v1";
    expect(declaring("If-Match")).toEqual(
      [
        `put ${g}`,
        `patch ${g}`,
        `delete ${g}`,
        `post ${g}/members`,
        `put ${g}/members`,
        `delete ${g}/members`,
        `delete ${g}/members/{user_id}`,
        `patch ${g}/members/{user_id}`,
        `post ${g}/roles`,
        `delete ${g}/roles`,
        "put /v1/users/{user_id}",
        "patch /v1/users/{user_id}",
        "delete /v1/users/{user_id}",
        "patch /v1/config",
        "patch /v1/roles/{role_id}",
        "delete /v1/roles/{role_id}",
        `post ${f}/config`,
        `patch ${f}/{id}`,
        `delete ${f}/{id}`,
        `post ${f}/{groupId}/roles`,
        `delete ${f}/{groupId}/roles`,
        `post ${f}/{groupId}/users`,
        `delete ${f}/{groupId}/users`,
        "put /scim/v2/Users/{id}",
        "patch /scim/v2/Users/{id}",
        "delete /scim/v2/Users/{id}",
        "patch /scim/v2/Groups/{id}",
        "delete /scim/v2/Groups/{id}",
        "put /scim/v2/Groups/{id}",
      ].sort(),
    );
    expect(declaring("If-None-Match")).toEqual(
      [
        `get ${g}`,
        `get ${g}/members`,
        `get ${g}/members/{user_id}`,
        "get /v1/users/{user_id}",
        "get /v1/config",
        "get /v1/roles/{role_id}",
        `get ${f}/config`,
        `get ${f}/{id}`,
        "get /kaizala/v1/groups/{groupId}",
      ].sort(),
    );

    expect(headers("post", "/v1/groups/{group_id}/members")).toEqual(
      expect.arrayContaining(["If-Match", "Idempotency-Key", "x-d1-bookmark"]),
    );
    expect(headers("patch", "/resources/groups/v1/{id}")).toEqual(expect.arrayContaining(["If-Match", "Idempotency-Key"]));
    expect(headers("post", "/kaizala/v1/groups")).toContain("Idempotency-Key");
    // A new key's secret is shown once: nothing is kept to replay. Analytics and SCIM keep their own de-duplication.
    expect(headers("post", "/v1/api-keys")).not.toContain("Idempotency-Key");
    expect(headers("post", "/api/group")).not.toContain("Idempotency-Key");
    expect(headers("get", "/scim/v2/Users")).toEqual(["x-d1-bookmark"]);
  });
});
