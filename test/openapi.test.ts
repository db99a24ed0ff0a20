import { describe, expect, it } from "vitest";
import committed from "../openapi.json";
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
  });
});
