// Segment's browser SDK (analytics.js) as it calls the HTTP API: one-letter paths (/v1/g,
// /v1/b, ...), the write key in the body (and in a Basic header), Content-Type text/plain, a
// CORS preflight from the page's origin, and null for the user id it does not know yet.
import { describe, expect, it } from "vitest";
import { analyticsWriteKey, type Client, call, expectError, memberIdsOf } from "./helpers";

const ORIGIN = "https://shop.example";

/** As analytics.js posts: text/plain, the write key in the body, from another origin. */
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  call("POST", path, { rawBody: JSON.stringify(body), headers: { "content-type": "text/plain", origin: ORIGIN, ...headers } });

/** The sources of the group's events in the change stream. */
const sources = async (admin: Client, group: string) => [
  ...new Set((await admin.get(`/v1/events?group_id=${group}`)).json.result.map((e: { source: string }) => e.source)),
];

describe("Segment's browser SDK (analytics.js)", () => {
  it("takes the write key from the body on the one-letter paths, and answers any origin", async () => {
    const { admin, key } = await analyticsWriteKey();
    const g = await post("/v1/g", {
      writeKey: key,
      userId: null,
      anonymousId: "0b6e2f3a-anon",
      groupId: "acme",
      traits: { name: "Acme Inc." },
    });
    expect(g.status, g.text).toBe(200);
    expect(g.json).toEqual({ success: true });
    expect(g.headers.get("access-control-allow-origin")).toBe("*");
    expect(g.headers.get("access-control-expose-headers")?.toLowerCase()).toBe("retry-after,x-request-id");
    const i = await post("/v1/i", { writeKey: key, userId: "alice", anonymousId: "0b6e2f3a-anon", traits: { email: "alice@example.com" } });
    expect(i.status, i.text).toBe(200);
    const b = await post("/v1/b", {
      writeKey: key,
      sentAt: new Date().toISOString(),
      batch: [
        { type: "group", userId: "alice", groupId: "acme", messageId: "ajs-1", writeKey: key },
        { type: "track", userId: "alice", event: "Checked out", messageId: "ajs-2", writeKey: key },
      ],
    });
    expect(b.status, b.text).toBe(200);
    expect((await post("/v1/t", { writeKey: key, userId: "alice", event: "Viewed" })).status).toBe(200);

    expect(await memberIdsOf(admin, "acme")).toEqual(["0b6e2f3a-anon", "alice"]);
    expect((await admin.get("/v1/groups/acme")).json.result.name).toBe("Acme Inc.");
    expect((await admin.get("/v1/users/alice")).json.result.email).toBe("alice@example.com");
    // The change stream names the surface the changes came through.
    expect(await sources(admin, "acme")).toEqual(["analytics"]);
  });

  it("answers the browser's preflight without a credential, on these routes only", async () => {
    const preflight = (path: string) =>
      call("OPTIONS", path, {
        headers: {
          origin: ORIGIN,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,x-retry-count",
        },
      });
    for (const path of ["/v1/b", "/v1/g", "/v1/batch", "/v1/identify"]) {
      const res = await preflight(path);
      expect(res.status, path).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toBe("POST");
      expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toBe(
        "authorization,content-type,x-retry-count,anonymousid,sentat",
      );
    }
    // The other surfaces take no browser calls from other origins: no CORS answer, the credential is asked for.
    const native = await preflight("/v1/groups");
    expect(native.status).toBe(401);
    expect(native.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a bad write key in the body, readably from the page, and changes nothing", async () => {
    const { admin, key } = await analyticsWriteKey();
    const other = await analyticsWriteKey();
    const event = { userId: "mallory", groupId: "acme", traits: { name: "Hijacked" } };

    const unknown = await post("/v1/g", { ...event, writeKey: `egk_${"A".repeat(43)}` });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get("access-control-allow-origin")).toBe("*");
    expect(unknown.json).toMatchObject({ success: false, message: expect.stringMatching(/key/) });
    // Not a string, or not there: no credential at all.
    for (const body of [{ ...event, writeKey: 42 }, { ...event, writeKey: "" }, event]) {
      const res = await post("/v1/g", body);
      expect(res.status).toBe(401);
      expect(res.json.message).toMatch(/missing credential/);
    }
    // A body that does not parse carries no write key: 401 before anything looks at it.
    expect((await call("POST", "/v1/b", { rawBody: "{not json", headers: { "content-type": "text/plain" } })).status).toBe(401);
    // Two different keys (of two tenants) in one request: neither is picked.
    const both = await post("/v1/g", { ...event, writeKey: other.key }, { authorization: `Basic ${btoa(`${key}:`)}` });
    expect(both.status).toBe(401);
    expect(both.json.message).toMatch(/different credentials/);
    // The same key in both places, as analytics.js sends it, is one credential.
    const same = await post("/v1/g", { userId: "bob", groupId: "acme", writeKey: key }, { authorization: `Basic ${btoa(`${key}:`)}` });
    expect(same.status, same.text).toBe(200);
    // A key without an analytics scope is the key's tenant's, and refused.
    const reader = await analyticsWriteKey(["groups:read"]);
    expect((await post("/v1/g", { ...event, writeKey: reader.key })).status).toBe(403);

    expect(await memberIdsOf(admin, "acme")).toEqual(["bob"]);
    expect((await admin.get("/v1/users/mallory")).status).toBe(404);
    for (const tenant of [other.admin, reader.admin]) {
      await expectError(await tenant.get("/v1/groups/acme"), 404, "not_found");
    }
    // Another tenant's key in the body acts in that tenant only, whatever ids the event names.
    expect((await post("/v1/g", { ...event, writeKey: other.key })).status).toBe(200);
    expect(await memberIdsOf(other.admin, "acme")).toEqual(["mallory"]);
    expect(await memberIdsOf(admin, "acme")).toEqual(["bob"]);
    expect((await admin.get("/v1/groups/acme")).json.result.name).not.toBe("Hijacked");
  });
});

// RudderStack's browser SDK (@rudderstack/analytics-js) posts JSON to the long paths (/v1/group, /v1/batch, ...) with
// the write key as a Basic user, the visitor's id in an AnonymousId header (base64), a SentAt header, and "" as the user
// id it does not know yet.
describe("RudderStack's browser SDK", () => {
  const rudder = (path: string, key: string, body: unknown) =>
    call("POST", path, {
      rawBody: JSON.stringify(body),
      headers: {
        "content-type": "application/json;charset=UTF-8",
        origin: ORIGIN,
        authorization: `Basic ${btoa(`${key}:`)}`,
        anonymousid: btoa("rs-anon-1"),
        sentat: new Date().toISOString(),
      },
    });

  it("passes the preflight with its AnonymousId header, and takes an empty user id as not known yet", async () => {
    for (const path of ["/v1/group", "/v1/identify", "/v1/batch"]) {
      const res = await call("OPTIONS", path, {
        headers: {
          origin: ORIGIN,
          "access-control-request-method": "POST",
          "access-control-request-headers": "anonymousid,authorization,content-type,sentat",
        },
      });
      expect(res.status, path).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-headers")?.toLowerCase().split(",")).toEqual(
        expect.arrayContaining(["anonymousid", "sentat"]),
      );
    }
    const { admin, key } = await analyticsWriteKey();
    const anonymous = { userId: "", anonymousId: "rs-anon-1", sentAt: new Date().toISOString() };
    const g = await rudder("/v1/group", key, {
      ...anonymous,
      type: "group",
      groupId: "acme",
      traits: { name: "Acme Inc." },
      messageId: "rs-1",
    });
    expect(g.status, g.text).toBe(200);
    expect(g.headers.get("access-control-allow-origin")).toBe("*");
    // An identify of a visitor not known yet names no user: nothing to store, and no user "" made.
    const i = await rudder("/v1/identify", key, { ...anonymous, type: "identify", traits: { plan: "trial" }, messageId: "rs-2" });
    expect(i.status, i.text).toBe(200);
    const b = await rudder("/v1/batch", key, {
      batch: [
        { type: "identify", userId: "carol", anonymousId: "rs-anon-1", traits: { email: "carol@example.com" }, messageId: "rs-3" },
        { type: "group", userId: "carol", anonymousId: "rs-anon-1", groupId: "acme", messageId: "rs-4" },
        { type: "group", userId: "", anonymousId: "rs-anon-2", groupId: "globex", messageId: "rs-5" },
      ],
      sentAt: new Date().toISOString(),
    });
    expect(b.status, b.text).toBe(200);

    expect(await memberIdsOf(admin, "acme")).toEqual(["carol", "rs-anon-1"]);
    expect(await memberIdsOf(admin, "globex")).toEqual(["rs-anon-2"]);
    expect((await admin.get("/v1/groups/acme")).json.result.name).toBe("Acme Inc.");
    expect((await admin.get("/v1/users/carol")).json.result.email).toBe("carol@example.com");
    expect((await admin.get("/v1/users?limit=100")).json.result.map((u: { user_id: string }) => u.user_id).sort()).toEqual([
      "carol",
      "rs-anon-1",
      "rs-anon-2",
    ]);
  });

  it("still drops a group call that names no one, and one whose user id is not an id", async () => {
    const { admin, key } = await analyticsWriteKey();
    // As for any event the batch cannot take: accepted, and named as dropped with why.
    const nobody = await rudder("/v1/group", key, { type: "group", userId: "", anonymousId: "", groupId: "acme", messageId: "rs-6" });
    expect(nobody.status, nobody.text).toBe(200);
    expect(nobody.json.dropped).toEqual([{ index: 0, messageId: "rs-6", errors: ["userId or anonymousId is required for a group call"] }]);
    const bad = await rudder("/v1/group", key, { type: "group", userId: "a b", groupId: "acme", messageId: "rs-7" });
    expect(bad.status, bad.text).toBe(200);
    expect(bad.json.dropped[0].errors[0]).toMatch(/^userId: must be 1-128 characters/);
    await expectError(await admin.get("/v1/groups/acme"), 404, "not_found");
    expect((await admin.get("/v1/users?limit=100")).json.result).toEqual([]);
  });
});

// RudderStack's beacon transport (useBeacon): navigator.sendBeacon posts the batch as text/plain to
// /beacon/v1/batch?writeKey=KEY, with no header at all, and never reads the answer.
describe("RudderStack's beacon transport", () => {
  const beacon = (key: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
    call("POST", `/beacon/v1/batch${key === undefined ? "" : `?writeKey=${encodeURIComponent(key)}`}`, {
      rawBody: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "text/plain", origin: ORIGIN, ...headers },
    });
  const batch = (messageId: string, userId: string) => ({
    batch: [
      { type: "identify", userId, anonymousId: "rs-anon-9", traits: { email: `${userId}@example.com` }, messageId: `${messageId}-i` },
      { type: "group", userId, anonymousId: "rs-anon-9", groupId: "acme", traits: { name: "Acme Inc." }, messageId: `${messageId}-g` },
      { type: "group", userId: "", anonymousId: "rs-anon-9", groupId: "globex", messageId: `${messageId}-a` },
      { type: "track", userId, event: "Left the page", messageId: `${messageId}-t` },
    ],
    sentAt: new Date().toISOString(),
  });

  it("takes the batch with the write key in the URL, as the analytics surface, once per messageId", async () => {
    const { admin, key } = await analyticsWriteKey();
    // sendBeacon's text/plain needs no preflight, but a page that asks gets one, as on the other analytics routes.
    const preflight = await call("OPTIONS", "/beacon/v1/batch", {
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toBe("POST");
    const sent = await beacon(key, batch("b1", "dana"));
    expect(sent.status, sent.text).toBe(200);
    expect(sent.json).toEqual({ success: true });
    expect(sent.headers.get("access-control-allow-origin")).toBe("*");
    // A page leaving may send the same beacon again: nothing changes twice.
    expect((await beacon(key, batch("b1", "dana"))).status).toBe(200);

    expect(await memberIdsOf(admin, "acme")).toEqual(["dana"]);
    expect(await memberIdsOf(admin, "globex")).toEqual(["rs-anon-9"]);
    expect((await admin.get("/v1/groups/acme")).json.result.name).toBe("Acme Inc.");
    expect((await admin.get("/v1/users/dana")).json.result.email).toBe("dana@example.com");
    expect(await sources(admin, "acme")).toEqual(["analytics"]);
    const added = (await admin.get("/v1/events?types=group.members.added")).json.result;
    expect(added.map((e: { group_id: string }) => e.group_id).sort()).toEqual(["acme", "globex"]);
    // The same key in a header as well is one credential.
    const twice = await beacon(key, batch("b2", "erin"), { authorization: `Basic ${btoa(`${key}:`)}` });
    expect(twice.status, twice.text).toBe(200);
    expect(await memberIdsOf(admin, "acme")).toEqual(["dana", "erin"]);
  });

  it("refuses a missing, unknown, mismatched or too powerful key in the URL, and bad bodies, changing nothing", async () => {
    const { admin, key } = await analyticsWriteKey();
    const other = await analyticsWriteKey();
    const powerful = await analyticsWriteKey(["group_api", "groups:write"]);
    const refused = async (res: Awaited<ReturnType<typeof beacon>>, status: number, message: RegExp) => {
      expect(res.status, res.text).toBe(status);
      expect(res.json).toMatchObject({ success: false, message: expect.stringMatching(message) });
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
    };
    await refused(await beacon(undefined, batch("r1", "mallory")), 401, /missing credential/);
    await refused(await beacon("", batch("r2", "mallory")), 401, /missing credential/);
    await refused(await beacon(`egk_${"A".repeat(43)}`, batch("r3", "mallory")), 401, /key/);
    await refused(
      await beacon(key, batch("r4", "mallory"), { authorization: `Basic ${btoa(`${other.key}:`)}` }),
      401,
      /different credentials/,
    );
    // A key that can do more than send analytics calls does not go in a URL, nor does an admin token.
    await refused(await beacon(powerful.key, batch("r5", "mallory")), 403, /only the scopes group_api and telemetry_apis/);
    await refused(await beacon(admin.token, batch("r6", "mallory")), 403, /only the scopes/);
    // In a header, the same key is taken as on every analytics route.
    const header = await beacon(undefined, batch("r7", "frank"), { authorization: `Basic ${btoa(`${powerful.key}:`)}` });
    expect(header.status, header.text).toBe(200);
    await refused(await beacon(key, "{not json"), 400, /malformed JSON/);
    await refused(await beacon(key, { batch: "not a list" }), 400, /batch/);
    await refused(await beacon(key, { batch: [] }), 400, /no events/);
    await refused(await beacon(key, `{"batch":[],"pad":"${"x".repeat(2_100_000)}"}`), 413, /larger than/);
    const get = await call("GET", `/beacon/v1/batch?writeKey=${key}`, { headers: { origin: ORIGIN } });
    expect(get.status, get.text).toBe(405);

    expect((await admin.get("/v1/users?limit=100")).json.result).toEqual([]);
    await expectError(await admin.get("/v1/groups/acme"), 404, "not_found");
    expect(await memberIdsOf(powerful.admin, "acme")).toEqual(["frank"]);
    // Another tenant's key in the URL acts in that tenant only.
    expect((await beacon(other.key, batch("r8", "mallory"))).status).toBe(200);
    expect(await memberIdsOf(other.admin, "acme")).toEqual(["mallory"]);
    await expectError(await admin.get("/v1/groups/acme"), 404, "not_found");
  });
});
