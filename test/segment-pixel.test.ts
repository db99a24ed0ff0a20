// Segment's tracking pixel, as an email or an ad embeds it: <img src=".../v1/pixel/group?data=BASE64">,
// the call and its writeKey in ?data=, no header at all.
import { describe, expect, it } from "vitest";
import { analyticsWriteKey, base64Json as base64, call, expectError, memberIdsOf } from "./helpers";

const urlSafe = (b64: string) => b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

const pixel = (type: string, data: string | undefined, headers: Record<string, string> = {}) =>
  call("GET", `/v1/pixel/${type}${data === undefined ? "" : `?data=${data}`}`, { headers });

function expectGif(res: Awaited<ReturnType<typeof pixel>>) {
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/gif");
  expect(res.headers.get("cache-control")).toBe("no-store, private");
  expect(res.text.startsWith("GIF89a")).toBe(true);
}

describe("Segment's tracking pixel", () => {
  it("records a group, identify or track call from its image request, once per messageId, as the analytics surface", async () => {
    const { admin, key } = await analyticsWriteKey();
    const joined = { writeKey: key, userId: "gina", groupId: "acme", traits: { name: "Acme Inc.", plan: "pro" }, messageId: "px-1" };
    expectGif(await pixel("group", encodeURIComponent(base64(joined))));
    // An email client that loads the image again records nothing twice.
    expectGif(await pixel("group", encodeURIComponent(base64(joined))));
    // A HEAD (a link checker, a mail scanner) is answered as the image is, and records nothing.
    const checked = await call(
      "HEAD",
      `/v1/pixel/group?data=${encodeURIComponent(base64({ ...joined, groupId: "checked", messageId: "px-head" }))}`,
    );
    expect(checked.status).toBe(200);
    expect(checked.headers.get("content-type")).toBe("image/gif");
    await expectError(await admin.get("/v1/groups/checked"), 404, "not_found");
    expect(await memberIdsOf(admin, "acme")).toEqual(["gina"]);
    expect((await admin.get("/v1/groups/acme")).json.result.name).toBe("Acme Inc.");
    const events = (await admin.get("/v1/events?group_id=acme")).json.result;
    expect(events.map((e: { type: string; source: string }) => [e.type, e.source])).toEqual([
      ["group.created", "analytics"],
      ["group.members.added", "analytics"],
      ["group.traits.changed", "analytics"],
    ]);

    // URL-safe base64 without padding, and UTF-8 beyond ASCII.
    const profile = { writeKey: key, userId: "gina", traits: { email: "gina@example.com", name: "Gína Ørsted ✓" } };
    expectGif(await pixel("identify", urlSafe(base64(profile))));
    expect((await admin.get("/v1/users/gina")).json.result).toMatchObject({ email: "gina@example.com", name: "Gína Ørsted ✓" });
    // JSON as it is (base64 is optional), and a standard "+" the query string turned into a space.
    expectGif(await pixel("track", encodeURIComponent(JSON.stringify({ writeKey: key, userId: "gina", event: "Email Opened" }))));
    let padded = { writeKey: key, userId: "hana", groupId: "acme", traits: { note: "" } };
    while (!base64(padded).includes("+")) padded = { ...padded, traits: { note: `${padded.traits.note}>` } };
    expectGif(await pixel("group", base64(padded)));
    expect(await memberIdsOf(admin, "acme")).toEqual(["gina", "hana"]);
  });

  it("refuses what it cannot take in the Segment routes' error format, and changes nothing", async () => {
    const { admin, key } = await analyticsWriteKey();
    const other = await analyticsWriteKey();
    const powerful = await analyticsWriteKey(["group_api", "groups:write"]);
    const event = { userId: "mallory", groupId: "acme", traits: { name: "Hijacked" } };
    const refused = (res: Awaited<ReturnType<typeof pixel>>, status: number, message: RegExp) => {
      expect(res.status, res.text).toBe(status);
      expect(res.json).toMatchObject({ success: false, message: expect.stringMatching(message) });
    };
    // No credential: no data, data without a writeKey, data that does not decode.
    refused(await pixel("group", undefined), 401, /missing credential/);
    refused(await pixel("group", base64(event)), 401, /missing credential/);
    refused(await pixel("group", "%%%not-base64"), 401, /missing credential/);
    refused(await pixel("group", base64({ ...event, writeKey: `egk_${"A".repeat(43)}` })), 401, /key/);
    // A key that can do more than analytics does not go in a URL; a different key in a header is a second credential.
    refused(await pixel("group", base64({ ...event, writeKey: powerful.key })), 403, /only the scopes group_api and telemetry_apis/);
    refused(
      await pixel("group", base64({ ...event, writeKey: key }), { authorization: `Basic ${btoa(`${other.key}:`)}` }),
      401,
      /different credentials/,
    );
    // With the key in a header, what the data holds is checked.
    const header = { authorization: `Basic ${btoa(`${key}:`)}` };
    refused(await pixel("group", "%%%not-base64", header), 400, /neither base64 of JSON nor JSON/);
    refused(await pixel("group", base64([event]), header), 400, /one call, a JSON object/);
    refused(await pixel("group", undefined, header), 400, /carries no call/);
    refused(await pixel("group", "A".repeat(8_193), header), 400, /longer than 8192/);
    const post = await call("POST", `/v1/pixel/group?data=${base64({ ...event, writeKey: key })}`, { headers: header });
    refused(post, 405, /takes GET, HEAD/);
    expect(post.headers.get("allow")).toBe("GET, HEAD");

    expect((await admin.get("/v1/users?limit=100")).json.result).toEqual([]);
    await expectError(await admin.get("/v1/groups/acme"), 404, "not_found");
    // Another tenant's key acts in that tenant only.
    expectGif(await pixel("group", base64({ ...event, writeKey: other.key })));
    expect(await memberIdsOf(other.admin, "acme")).toEqual(["mallory"]);
    await expectError(await admin.get("/v1/groups/acme"), 404, "not_found");
  });
});
