// A body that nests objects and arrays deeper than LIMITS.jsonDepth is refused on every
// surface that stores what it is sent. Stored deeper than SQLite's JSON functions read (1,000
// levels), one group's custom data made every filtered read of the tenant's change stream that
// met its event answer 500 ("malformed JSON").
import { describe, expect, it } from "vitest";
import { LIMITS } from "../src/core/shared/validation";
import { call, client, expectError } from "./helpers";

/** An object `levels` deep: {"a": {"a": ... {} }}. */
const nested = (levels: number): Record<string, unknown> => {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
};
const DEPTH = LIMITS.jsonDepth;
const MESSAGE = `must not nest objects and arrays more than ${DEPTH} levels deep`;

describe("JSON nested deeper than the limit", () => {
  it("native: custom data at the limit is stored and streamed; one level more is 400 and changes nothing", async () => {
    const api = await client(undefined, { scope: "admin" });
    // The body is one level more than its custom_data.
    const ok = await api.post("/v1/groups", { name: "Deep enough", custom_data: nested(DEPTH - 1) });
    expect(ok.status, ok.text).toBe(201);
    const group = ok.json.result.group_id;
    for (const [method, path, body] of [
      ["POST", "/v1/groups", { name: "Too deep", custom_data: nested(DEPTH) }],
      ["PATCH", `/v1/groups/${group}`, { custom_data: nested(DEPTH) }],
      ["PUT", "/v1/users/deep", { name: "Deep", custom_data: nested(DEPTH) }],
      ["PATCH", "/v1/users/deep", { custom_data: { list: [nested(DEPTH)] } }],
    ] as const) {
      const res = await call(method, path, { token: api.token, body });
      expectError(res, 400, "invalid");
      expect(res.json.error.details, `${method} ${path}`).toEqual([{ field: "request body", message: MESSAGE }]);
    }
    // A 5,000-level body (under the size limits) is measured without overflowing anything.
    expect((await api.post("/v1/groups", { name: "Hostile", custom_data: nested(5_000) })).status).toBe(400);

    expect((await api.get("/v1/groups")).json.result.map((g: { name: string }) => g.name)).toEqual(["Deep enough"]);
    expect((await api.get("/v1/users/deep")).status).toBe(404);
    expect((await api.get(`/v1/groups/${group}`)).json.result.custom_data).toEqual(nested(DEPTH - 1));
    // The filtered stream reads the stored event's JSON in SQL.
    const events = await api.get(`/v1/events?group_id=${group}&user_id=nobody`);
    expect(events.status, events.text).toBe(200);
    expect((await api.get(`/v1/events?group_id=${group}`)).json.result.map((e: { type: string }) => e.type)).toEqual(["group.created"]);
  });

  it("SCIM, seed 001 and seed 002: 400 in their formats, nothing stored", async () => {
    const api = await client(undefined, { scope: "admin scim group_api" });
    const scim = await call("POST", "/scim/v2/Users", {
      token: api.token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "deep@example.com", addresses: [nested(DEPTH)] },
    });
    expect(scim.status, scim.text).toBe(400);
    expect(scim.json.schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:Error"]);
    expect(scim.json.detail).toContain(MESSAGE);
    const found = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent('userName eq "deep@example.com"')}`, { token: api.token });
    expect(found.json.totalResults).toBe(0);

    const frontegg = await call("POST", "/resources/groups/v1", {
      token: api.token,
      headers: { "frontegg-tenant-id": api.tenant },
      body: { name: "Deep metadata", metadata: JSON.stringify(nested(DEPTH + 1)) },
    });
    expect(frontegg.status, frontegg.text).toBe(400);
    expect(frontegg.text).toContain(MESSAGE);

    const seed002 = await call("POST", "/api/group", {
      token: api.token,
      body: [
        { user_id: "u1", group_id: "fine", timestamp: "2024-01-01T00:00:00Z", traits: { group_type: "Account" } },
        { user_id: "u2", group_id: "deep", timestamp: "2024-01-01T00:00:00Z", traits: { group_type: "Account", x: nested(DEPTH) } },
      ],
    });
    expect(seed002.status, seed002.text).toBe(400);
    expect(seed002.json.errors).toEqual([{ index: 1, field: "event", message: MESSAGE }]);
    expect((await api.get("/v1/groups")).json.result).toEqual([]);
  });

  it("Segment: the deep event is dropped and reported, its neighbours applied", async () => {
    const api = await client(undefined, { scope: "admin group_api" });
    const res = await call("POST", "/v1/batch", {
      token: api.token,
      body: {
        batch: [
          { type: "group", userId: "u1", groupId: "acct", messageId: "m1" },
          { type: "group", userId: "u2", groupId: "acct", messageId: "m2", traits: { x: nested(DEPTH) } },
          { type: "identify", userId: "u3", messageId: "m3", traits: { x: nested(DEPTH) } },
        ],
      },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.dropped).toEqual([
      { index: 1, messageId: "m2", errors: [`event: ${MESSAGE}`] },
      { index: 2, messageId: "m3", errors: [`event: ${MESSAGE}`] },
    ]);
    expect((await api.get("/v1/groups/acct/members")).json.result.map((m: { user_id: string }) => m.user_id)).toEqual(["u1"]);
    expect((await api.get("/v1/groups/acct/traits")).json.result).toEqual({});
    expect((await api.get("/v1/users/u3")).status).toBe(404);
  });
});
