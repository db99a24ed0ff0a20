// The console in headless Chromium (Debian's package, driven by playwright-core) against
// the local server: sign in, create a group, add three members, link a child group, see a
// user's inherited group and claim, delete the group; API keys; webhooks. Screenshots go to test-results/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { after, before, it } from "node:test";
import { chromium } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { startServer } from "../scripts/local-server.mjs";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = new URL("../test-results/", import.meta.url).pathname;

let server;
let browser;
before(async () => {
  if (!existsSync(CHROMIUM)) return; // both tests skip, saying why
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const api = async (token, method, path, body) => {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return res.status === 204 ? undefined : res.json();
};

/** Sign in with a token, then open a page from the header's link. */
async function signInTo(page, token, link) {
  await page.goto(`${server.base}/console/#/sign-in`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Groups" }).waitFor();
  await page.getByRole("link", { name: link }).click();
  await page.getByRole("heading", { name: link }).waitFor();
}

it("runs an admin's tour of the console", { skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium" }, async () => {
  const token = await server.token("console-tenant", "admin");
  // Users to add by id, email and phone number; a child group with a member of its own.
  await api(token, "PUT", "/v1/users/carol", { email: "carol@example.com", name: "Carol" });
  await api(token, "PUT", "/v1/users/dave", { phone_number: "+14155550123", name: "Dave" });
  const child = (await api(token, "POST", "/v1/groups", { name: "Storage" })).result.group_id;
  await api(token, "POST", `/v1/groups/${child}/members`, { user_ids: ["erin"] });

  const page = await browser.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));

  const res = await page.goto(`${server.base}/console/`);
  assert.match(res.headers()["content-security-policy"] ?? "", /script-src 'self'/);
  assert.equal(res.headers()["x-frame-options"], "DENY");
  assert.equal(res.headers()["x-content-type-options"], "nosniff");
  assert.match(res.headers()["strict-transport-security"] ?? "", /max-age=/);
  assert.equal(res.headers()["cross-origin-opener-policy"], "same-origin");
  await page.getByLabel("Token").fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /session has ended|not a valid JWT/);
  await page.screenshot({ path: `${SHOTS}console-sign-in-error.png`, fullPage: true });
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Groups" }).waitFor();

  await page.getByLabel("Name", { exact: true }).fill("Platform");
  await page.getByLabel("Description").fill("Platform engineering");
  await page.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("heading", { name: "Platform" }).waitFor();

  await page.getByLabel(/Add members/).fill("alice\ncarol@example.com\n+14155550123");
  await page.getByRole("button", { name: "Add members" }).click();
  await page.getByRole("table", { name: "members" }).getByRole("link", { name: "dave" }).waitFor();
  const rows = await page.getByRole("table", { name: "members" }).locator("tbody tr").count();
  assert.equal(rows, 3);

  await page.getByLabel("Link a child group (its id)").fill(child);
  await page.getByRole("button", { name: "Link child" }).click();
  await page.getByRole("button", { name: "Unlink Storage" }).waitFor();

  // Bad custom data is refused in words, next to the editor, and nothing is sent.
  await page.getByLabel("Custom data (JSON)").fill("{ not json");
  assert.match(await page.locator("#g-custom-error").innerText(), /not valid JSON/);
  await page.getByLabel("Custom data (JSON)").fill('{"cost_center": "42"}');
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  // The group's activity, from the change stream, follows each change made on the page.
  const activity = page.getByRole("table", { name: "activity" });
  await activity.getByRole("cell", { name: "group.updated" }).waitFor();
  assert.match(await activity.innerText(), /group\.created[\s\S]*group\.members\.added[\s\S]*group\.children\.linked[\s\S]*group\.updated/);
  // Made through the console, and the stream says so.
  const first = activity.getByRole("row").nth(1).getByRole("cell");
  assert.equal(await first.nth(1).innerText(), "group.created");
  assert.equal(await first.nth(3).innerText(), "console");
  await page.screenshot({ path: `${SHOTS}console-group.png`, fullPage: true });

  // Erin is in Storage, so Platform is inherited; the claim carries both.
  await page.goto(`${server.base}/console/#/users/erin`);
  await page.getByRole("heading", { name: "User erin" }).waitFor();
  const held = page.getByRole("table", { name: "user groups" });
  await held.getByRole("link", { name: "Platform" }).waitFor();
  assert.match(await held.innerText(), /Platform\s+inherited/);
  await page.waitForFunction(() => document.querySelector('[aria-label="claim"]')?.textContent?.includes("Platform"), null, {
    timeout: 10_000,
  });
  assert.deepEqual(JSON.parse(await page.getByLabel("claim", { exact: true }).innerText()), { groups: ["Platform", "Storage"] });
  await page.getByRole("table", { name: "activity" }).getByRole("cell", { name: "group.members.added" }).waitFor();
  await page.screenshot({ path: `${SHOTS}console-user.png`, fullPage: true });

  // Every user of the tenant, however made (erin by a membership), 20 a page, and one found by email.
  const more = Array.from({ length: 18 }, (_, i) => `zed${String(i).padStart(2, "0")}`);
  for (const id of more) await api(token, "PUT", `/v1/users/${id}`, {});
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await page.getByRole("heading", { name: "Users" }).waitFor();
  const everyone = page.getByRole("table", { name: "users" });
  await everyone.getByRole("link", { name: "erin" }).waitFor();
  const shown = () => everyone.locator("tbody tr td:first-child").allInnerTexts();
  assert.deepEqual(await shown(), ["alice", "carol", "dave", "erin", ...more.slice(0, 16)]);
  await page.getByRole("button", { name: "Next page" }).click();
  await everyone.getByRole("link", { name: "zed17" }).waitFor();
  assert.deepEqual(await shown(), more.slice(16));
  assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true);
  await page.getByRole("button", { name: "Previous page" }).click();
  await everyone.getByRole("link", { name: "alice" }).waitFor();
  assert.equal((await shown()).length, 20);
  await page.getByLabel("Find by email").fill("CAROL@example.com");
  await page.getByRole("button", { name: "Find" }).click();
  await page.waitForFunction(() => document.querySelectorAll('[aria-label="users"] tbody tr').length === 1);
  assert.match(await everyone.innerText(), /carol\s+carol@example\.com\s+Carol/);
  await page.screenshot({ path: `${SHOTS}console-users.png`, fullPage: true });

  await page.goto(`${server.base}/console/#/groups`);
  await page.getByRole("link", { name: "Platform" }).click();
  await page.getByRole("button", { name: "Delete this group…" }).click();
  await page.getByLabel("Group name").fill("Platform");
  await page.screenshot({ path: `${SHOTS}console-delete.png`, fullPage: true });
  await page.getByRole("button", { name: "Delete Platform" }).click();
  await page.getByRole("heading", { name: "Groups" }).waitFor();
  await page.getByRole("link", { name: "Storage" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Platform" }).count(), 0);
  await page.screenshot({ path: `${SHOTS}console-groups.png`, fullPage: true });

  const groups = (await api(token, "GET", "/v1/groups")).result.map((g) => g.name);
  assert.deepEqual(groups, ["Storage"]);
  assert.deepEqual(
    problems.filter((p) => !/401/.test(p)),
    [],
  );
});

it("creates an API key (secret shown once, copied), lists it with its last use, and revokes it", {
  skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium",
}, async () => {
  const token = await server.token("console-keys", "admin");
  const context = await browser.newContext();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("dialog", (d) => d.accept());
  // Read-your-writes: the console sends back the D1 bookmark of the answers it got.
  const sent = [];
  const received = new Set();
  const isApi = (url) => new URL(url).pathname.startsWith("/v1/");
  page.on("request", (r) => isApi(r.url()) && sent.push({ method: r.method(), bookmark: r.headers()["x-d1-bookmark"] ?? null }));
  page.on("response", (r) => isApi(r.url()) && r.headers()["x-d1-bookmark"] && received.add(r.headers()["x-d1-bookmark"]));
  await signInTo(page, token, "API keys");

  // No scope chosen: the server's refusal is shown, and nothing is made.
  await page.getByLabel("Name").fill("Nightly export");
  await page.getByRole("button", { name: "Create key" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /at least one scope/);

  await page.getByRole("checkbox", { name: /groups:read/ }).check();
  await page.getByRole("button", { name: "Create key" }).click();
  const secretField = page.getByLabel(/not shown again/);
  await secretField.waitFor();
  const secret = await secretField.inputValue();
  assert.match(secret, /^egk_[A-Za-z0-9_-]{43}$/);
  await page.getByRole("button", { name: "Copy secret" }).click();
  await page.getByText("Copied.").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await page.screenshot({ path: `${SHOTS}console-api-keys.png`, fullPage: true });

  // The key works outside the console, and the list says so (without the secret).
  const used = await fetch(`${server.base}/v1/groups`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(used.status, 200);
  await page.reload();
  const row = page.getByRole("row", { name: /Nightly export/ });
  await row.waitFor();
  assert.match(await row.innerText(), /groups:read/);
  assert.doesNotMatch(await row.innerText(), /never/);
  assert.ok(!(await page.content()).includes(secret));

  await page.getByRole("button", { name: "Revoke Nightly export" }).click();
  await page
    .getByRole("row", { name: /Nightly export/ })
    .getByText(/revoked/)
    .waitFor();
  const refused = await fetch(`${server.base}/v1/groups`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(refused.status, 401);
  const revoke = sent.find((r) => r.method === "DELETE");
  assert.ok(revoke?.bookmark, "the revoke carried a bookmark");
  assert.ok(received.has(revoke.bookmark), "one the console had been given");
  await page.screenshot({ path: `${SHOTS}console-api-keys-revoked.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

it("adds a webhook (secret shown once), sees its signed delivery, redelivers, pauses and deletes it", {
  skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium",
}, async () => {
  const token = await server.token("console-hooks", "admin");
  const got = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("dialog", (d) => d.accept());
  try {
    await signInTo(page, token, "Webhooks");

    // A private address is refused, and the form keeps what was typed.
    await page.getByLabel("URL").fill("https://10.0.0.1/hook");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /private, loopback or link-local/);
    assert.equal(await page.getByLabel("URL").inputValue(), "https://10.0.0.1/hook");

    await page.getByLabel("URL").fill(url);
    await page.getByLabel(/Event types/).fill("group.created");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secretField = page.getByLabel(/not shown again/);
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    assert.match(secret, /^whsec_/);
    await page
      .getByRole("row", { name: new RegExp(url) })
      .getByText("active")
      .waitFor();

    const made = await api(token, "POST", "/v1/groups", { name: "Hooked from the API" });
    for (let i = 0; got.length === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 1);
    const payload = new Webhook(secret).verify(got[0].body, got[0].headers);
    assert.equal(payload.data.group_id, made.result.group_id);

    await page.getByRole("button", { name: `Deliveries to ${url}` }).click();
    const delivered = page.getByRole("row", { name: new RegExp(got[0].headers["webhook-id"]) });
    await delivered.getByText("delivered").waitFor();
    await page.getByRole("button", { name: `Redeliver ${got[0].headers["webhook-id"]}` }).click();
    for (let i = 0; got.length < 2 && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(got[1].headers["webhook-id"], got[0].headers["webhook-id"]);
    await page.screenshot({ path: `${SHOTS}console-webhooks.png`, fullPage: true });

    await page.getByRole("button", { name: `Pause ${url}` }).click();
    await page
      .getByRole("row", { name: new RegExp(url) })
      .getByText("paused")
      .waitFor();
    assert.equal((await api(token, "GET", "/v1/webhooks")).result[0].paused, true);
    await page.getByRole("button", { name: `Delete ${url}` }).click();
    await page.getByText("No endpoints yet.").waitFor();
    assert.deepEqual((await api(token, "GET", "/v1/webhooks")).result, []);
    assert.deepEqual(problems, []);
  } finally {
    receiver.close();
    await context.close();
  }
});
