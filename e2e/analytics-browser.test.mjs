// End-to-end: Segment's browser SDK (@segment/analytics-next, bundled as an app would) in
// headless Chromium, on a page served from another origin than the API, with an API key of the
// tenant as its write key. It posts text/plain to the one-letter paths (/v1/g, /v1/i, /v1/t; /v1/b
// when batching) with the key in the body and a Basic header, which takes a CORS preflight. Every call lands: the group, its traits, its members (the anonymous visitor
// too), the user's profile.
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

/** Open the shop's page, load the SDK against the local server, run `calls` in the page; the API requests it made. */
async function inPage(writeKey, deliveryStrategy, calls) {
  const page = await browser.newPage();
  const sent = [];
  const failed = [];
  // Chromium runs a preflight on its own and does not show it here: a POST that carried a Basic header and
  // got its answer was let through by it.
  page.on("request", (r) => {
    if (!r.url().startsWith(server.base)) return;
    const basic = /^Basic /.test(r.headers().authorization ?? "") ? " (Basic)" : "";
    sent.push(`${r.method()} ${new URL(r.url()).pathname}${basic}`);
  });
  page.on("requestfailed", (r) => r.url().startsWith(server.base) && failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on("response", (r) => r.url().startsWith(server.base) && r.status() >= 300 && failed.push(`${r.url()}: ${r.status()}`));
  await page.goto(site.base);
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
  return { sent, failed };
}

it("Segment's browser SDK, from another origin, records group, identify and track calls", { skip }, async () => {
  const tenant = `browser-${Date.now()}`;
  const key = (await api(tenant, "/v1/api-keys", { method: "POST", body: JSON.stringify({ name: "web", scopes: ["group_api"] }) })).json
    .result.secret;

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

  const group = await api(tenant, "/v1/groups/acme");
  assert.equal(group.status, 200);
  assert.equal(group.json.result.name, "Acme Inc.");
  const traits = (await api(tenant, "/v1/groups/acme/traits")).json.result;
  assert.deepEqual(Object.fromEntries(Object.entries(traits).map(([k, v]) => [k, v.value])), { name: "Acme Inc.", plan: "pro", seats: 12 });
  const members = (await api(tenant, "/v1/groups/acme/members")).json.result.map((m) => m.user_id);
  assert.equal(members.length, 2);
  assert.ok(members.includes("alice"), members.join(", "));
  const alice = await api(tenant, "/v1/users/alice");
  assert.equal(alice.status, 200);
  assert.equal(alice.json.result.email, "alice@example.com");

  // Batching: the SDK posts its calls together to /v1/b.
  const batched = await inPage(key, { strategy: "batching", config: { size: 3, timeout: 100 } }, [
    ["identify", "bob", { email: "bob@example.com" }],
    ["group", "globex", { name: "Globex" }],
    ["track", "Signed up"],
  ]);
  assert.deepEqual(batched.failed, []);
  assert.deepEqual(batched.sent, ["POST /v1/b (Basic)"]);
  assert.deepEqual(
    (await api(tenant, "/v1/groups/globex/members")).json.result.map((m) => m.user_id),
    ["bob"],
  );
  assert.equal((await api(tenant, "/v1/users/bob")).json.result.email, "bob@example.com");
});
