// End-to-end: Segment's browser SDK (@segment/analytics-next) and RudderStack's
// (@rudderstack/analytics-js), bundled as an app would, in headless Chromium, on a page served from
// another origin than the API, with an API key of the tenant as their write key. Segment's posts
// text/plain to the one-letter paths (/v1/g, /v1/i, /v1/t; /v1/b when batching) with the key in the
// body and a Basic header; RudderStack's posts JSON to the long ones (/v1/group, ...; /v1/batch) with a
// Basic header and its AnonymousId and SentAt headers, or, with useBeacon, sends the batch by navigator.sendBeacon to
// /beacon/v1/batch?writeKey=. Both take a CORS preflight. Every call lands:
// the group, its traits, its members (the anonymous visitor too), the user's profile. And Segment's
// tracking pixel, shown as an image: a recorded call loads a 1x1 GIF, a refused one shows broken.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { chromium } from "playwright-core";
import { build } from "vite";
import { startServer } from "../scripts/local-server.mjs";

const CHROMIUM = "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && "no /usr/bin/chromium";

let server;
let browser;
let site;
before(async () => {
  if (skip) return;
  const out = mkdtempSync(join(tmpdir(), "analytics-page-"));
  await build({
    configFile: false,
    logLevel: "warn",
    build: {
      outDir: out,
      emptyOutDir: true,
      minify: false,
      lib: {
        entry: new URL("analytics-page/entry.mjs", import.meta.url).pathname,
        formats: ["iife"],
        name: "page",
        fileName: () => "page.js",
      },
    },
  });
  const script = readFileSync(join(out, "page.js"));
  // The shop's own origin: another port of 127.0.0.1, so every API call is cross-origin.
  const pages = createServer((req, res) => {
    if (req.url === "/page.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(script);
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><title>shop</title><script src="/page.js"></script>');
  });
  await new Promise((r) => pages.listen(0, "127.0.0.1", r));
  site = { base: `http://127.0.0.1:${pages.address().port}`, close: () => pages.close() };
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
  await server?.stop();
  site?.close();
});

const tokens = new Map();
const api = async (tenant, path, init = {}) => {
  if (!tokens.has(tenant)) tokens.set(tenant, await server.token(tenant, "admin"));
  const res = await fetch(`${server.base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${tokens.get(tenant)}`, "content-type": "application/json" },
  });
  return { status: res.status, json: await res.json() };
};

/** A tenant's API key with scope group_api: the SDKs' write key. */
const writeKeyOf = async (tenant) =>
  (await api(tenant, "/v1/api-keys", { method: "POST", body: JSON.stringify({ name: "web", scopes: ["group_api"] }) })).json.result.secret;

/**
 * The shop's page, opened, recording the API requests it makes (method, path, and the credential headers they
 * carried), those that failed, and how many got an answer. Chromium runs a preflight on its own and does not show
 * it here: a POST that carried a Basic header and got its answer was let through by it.
 */
async function shopPage() {
  const page = await browser.newPage();
  const seen = { sent: [], failed: [], answered: 0 };
  const ours = (r) => r.url().startsWith(server.base);
  page.on("request", (r) => {
    if (!ours(r)) return;
    const headers = r.headers();
    const basic = /^Basic /.test(headers.authorization ?? "") ? " (Basic)" : "";
    const anonymous = headers.anonymousid ? " (AnonymousId)" : "";
    seen.sent.push(`${r.method()} ${new URL(r.url()).pathname}${basic}${anonymous}`);
  });
  page.on("requestfailed", (r) => ours(r) && seen.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (!ours(r)) return;
    seen.answered++;
    if (r.status() >= 300) seen.failed.push(`${r.url()}: ${r.status()}`);
  });
  await page.goto(site.base);
  return { page, seen };
}

const memberIds = async (tenant, groupId) => (await api(tenant, `/v1/groups/${groupId}/members`)).json.result.map((m) => m.user_id);

/** The user's profile, with the email its identify call gave (each test's users are USER@example.com). */
async function assertEmail(tenant, user) {
  const profile = await api(tenant, `/v1/users/${user}`);
  assert.equal(profile.status, 200);
  assert.equal(profile.json.result.email, `${user}@example.com`);
}

/** What an anonymous visitor's and a signed-in user's group calls leave: the group, its traits, both as its members. */
async function assertAccount(tenant, groupId, { name, traits, user }) {
  const group = await api(tenant, `/v1/groups/${groupId}`);
  assert.equal(group.status, 200);
  assert.equal(group.json.result.name, name);
  const stored = (await api(tenant, `/v1/groups/${groupId}/traits`)).json.result;
  assert.deepEqual(Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, v.value])), traits);
  const members = await memberIds(tenant, groupId);
  assert.equal(members.length, 2);
  assert.ok(members.includes(user), members.join(", "));
}

/** Open the shop's page, load the SDK against the local server, run `calls` in the page; the API requests it made. */
async function inPage(writeKey, deliveryStrategy, calls) {
  const { page, seen } = await shopPage();
  const apiHost = `${new URL(server.base).host}/v1`;
  await page.evaluate(
    async ({ writeKey, apiHost, deliveryStrategy, calls }) => {
      const segment = { apiKey: writeKey, apiHost, protocol: "http", ...(deliveryStrategy ? { deliveryStrategy } : {}) };
      const [analytics] = await window.AnalyticsBrowser.load(
        { writeKey, cdnSettings: { integrations: { "Segment.io": segment } } },
        { disableClientPersistence: true },
      );
      // Each call resolves once the SDK's delivery of it is done (batching: once its batch is sent).
      await Promise.all(calls.map(([method, ...args]) => analytics[method](...args)));
    },
    { writeKey, apiHost, deliveryStrategy, calls },
  );
  await page.close();
  return seen;
}

it("Segment's browser SDK, from another origin, records group, identify and track calls", { skip }, async () => {
  const tenant = `browser-${Date.now()}`;
  const key = await writeKeyOf(tenant);

  // An anonymous visitor joins the account first, then signs in as alice, who joins it too.
  const standard = await inPage(key, undefined, [["group", "acme", { name: "Acme Inc.", plan: "pro" }]]);
  assert.deepEqual(standard.failed, []);
  assert.deepEqual(standard.sent, ["POST /v1/g (Basic)"]);
  const signedIn = await inPage(key, undefined, [
    ["identify", "alice", { email: "alice@example.com", name: "Alice" }],
    ["group", "acme", { seats: 12 }],
    ["track", "Checked out", { total: 42 }],
  ]);
  assert.deepEqual(signedIn.failed, []);
  assert.deepEqual(signedIn.sent.sort(), ["POST /v1/g (Basic)", "POST /v1/i (Basic)", "POST /v1/t (Basic)"]);

  await assertAccount(tenant, "acme", { name: "Acme Inc.", traits: { name: "Acme Inc.", plan: "pro", seats: 12 }, user: "alice" });
  await assertEmail(tenant, "alice");

  // Batching: the SDK posts its calls together to /v1/b.
  const batched = await inPage(key, { strategy: "batching", config: { size: 3, timeout: 100 } }, [
    ["identify", "bob", { email: "bob@example.com" }],
    ["group", "globex", { name: "Globex" }],
    ["track", "Signed up"],
  ]);
  assert.deepEqual(batched.failed, []);
  assert.deepEqual(batched.sent, ["POST /v1/b (Basic)"]);
  assert.deepEqual(await memberIds(tenant, "globex"), ["bob"]);
  await assertEmail(tenant, "bob");
});

/**
 * Open the shop's page, load RudderStack's SDK against the local server (its source settings given in the page, as
 * `getSourceConfig` allows, instead of fetched from RudderStack), with its other load options, make `calls`, and wait
 * until `landed()` (a beacon's answer is not the page's to see), or until the server has answered `expected` of its
 * requests; the requests it made.
 */
async function inRudderPage(writeKey, loadOptions, calls, expected, landed = async (seen) => seen.answered >= expected) {
  const { page, seen } = await shopPage();
  await page.evaluate(
    async ({ writeKey, dataPlane, loadOptions, calls }) => {
      const analytics = new window.RudderAnalytics();
      const source = { id: "shop", name: "shop", workspaceId: "shop", enabled: true, config: {}, destinations: [] };
      analytics.load(writeKey, dataPlane, { getSourceConfig: () => ({ source }), ...loadOptions, logLevel: "ERROR" });
      await new Promise((resolve) => analytics.ready(resolve));
      for (const [method, ...args] of calls) analytics[method](...args);
    },
    { writeKey, dataPlane: server.base, loadOptions, calls },
  );
  for (const deadline = Date.now() + 20_000; !(await landed(seen)) && seen.failed.length === 0; ) {
    if (Date.now() > deadline)
      throw new Error(`RudderStack's SDK: ${seen.answered} answered, not all landed; sent ${seen.sent.join(", ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await page.close();
  return seen;
}

it("RudderStack's browser SDK, from another origin, records group, identify and track calls", { skip }, async () => {
  const tenant = `rudder-${Date.now()}`;
  const key = await writeKeyOf(tenant);

  // An anonymous visitor joins the account (the SDK sends "" as the user id it does not know), then signs in as dave.
  const visitor = await inRudderPage(key, {}, [["group", "initech", { name: "Initech", plan: "pro" }]], 1);
  assert.deepEqual(visitor.failed, []);
  assert.deepEqual(visitor.sent, ["POST /v1/group (Basic) (AnonymousId)"]);
  const signedIn = await inRudderPage(
    key,
    {},
    [
      ["identify", "dave", { email: "dave@example.com" }],
      ["group", "initech", { seats: 5 }],
      ["track", "Checked out", { total: 42 }],
    ],
    3,
  );
  assert.deepEqual(signedIn.failed, []);
  assert.deepEqual(signedIn.sent.sort(), [
    "POST /v1/group (Basic) (AnonymousId)",
    "POST /v1/identify (Basic) (AnonymousId)",
    "POST /v1/track (Basic) (AnonymousId)",
  ]);
  await assertAccount(tenant, "initech", { name: "Initech", traits: { name: "Initech", plan: "pro", seats: 5 }, user: "dave" });
  await assertEmail(tenant, "dave");

  // Batching: the SDK posts its calls together to /v1/batch.
  const batched = await inRudderPage(
    key,
    { queueOptions: { batch: { enabled: true, maxItems: 2, flushInterval: 100 } } },
    [
      ["identify", "erin", { email: "erin@example.com" }],
      ["group", "hooli", { name: "Hooli" }],
    ],
    1,
  );
  assert.deepEqual(batched.failed, []);
  assert.deepEqual(batched.sent, ["POST /v1/batch (Basic) (AnonymousId)"]);
  assert.deepEqual(await memberIds(tenant, "hooli"), ["erin"]);
  await assertEmail(tenant, "erin");

  // The beacon transport: navigator.sendBeacon posts the batch as text/plain, the write key in the URL, no header.
  const beacon = await inRudderPage(
    key,
    { useBeacon: true, beaconQueueOptions: { maxItems: 2, flushQueueInterval: 100 } },
    [
      ["identify", "frank", { email: "frank@example.com" }],
      ["group", "pied-piper", { name: "Pied Piper" }],
    ],
    undefined,
    async () => (await api(tenant, "/v1/groups/pied-piper/members")).status === 200,
  );
  assert.deepEqual(beacon.failed, []);
  assert.deepEqual(beacon.sent, ["POST /beacon/v1/batch"]);
  assert.deepEqual(await memberIds(tenant, "pied-piper"), ["frank"]);
  assert.equal((await api(tenant, "/v1/groups/pied-piper")).json.result.name, "Pied Piper");
  await assertEmail(tenant, "frank");
});

/** Show an image of this URL in the shop's page, as an email or an ad shows a tracking pixel: loaded (and its size) or broken. */
async function showImage(src) {
  const { page } = await shopPage();
  const shown = await page.evaluate(
    (src) =>
      new Promise((resolve) => {
        const img = new Image();
        img.onload = () => resolve({ loaded: true, width: img.naturalWidth, height: img.naturalHeight });
        img.onerror = () => resolve({ loaded: false });
        img.src = src;
      }),
    src,
  );
  await page.close();
  return shown;
}

it("Segment's tracking pixel, as an image in a page of another origin, records the call; a refused one shows broken", {
  skip,
}, async () => {
  const tenant = `pixel-${Date.now()}`;
  const key = await writeKeyOf(tenant);
  const data = (call) => Buffer.from(JSON.stringify(call)).toString("base64url");
  const opened = { writeKey: key, userId: "ivan", groupId: "umbrella", traits: { name: "Umbrella" }, messageId: "email-1" };
  assert.deepEqual(await showImage(`${server.base}/v1/pixel/group?data=${data(opened)}`), { loaded: true, width: 1, height: 1 });
  // The same email opened again counts once.
  assert.deepEqual(await showImage(`${server.base}/v1/pixel/group?data=${data(opened)}`), { loaded: true, width: 1, height: 1 });
  assert.deepEqual(await memberIds(tenant, "umbrella"), ["ivan"]);
  assert.equal((await api(tenant, "/v1/groups/umbrella")).json.result.name, "Umbrella");
  const added = (await api(tenant, "/v1/events?types=group.members.added")).json.result;
  assert.deepEqual(
    added.map((e) => [e.group_id, e.user_ids, e.source]),
    [["umbrella", ["ivan"], "analytics"]],
  );
  // No write key: nothing recorded, and the image is broken rather than a blank that hides it.
  const { writeKey: _none, ...unsigned } = { ...opened, groupId: "stark", messageId: "email-2" };
  assert.deepEqual(await showImage(`${server.base}/v1/pixel/group?data=${data(unsigned)}`), { loaded: false });
  assert.equal((await api(tenant, "/v1/groups/stark")).status, 404);
});
