// End-to-end: the real Segment and RudderStack node SDKs, gzip left on, with an API key of
// the tenant as their write key, pointed at the local server (npm start's) on 127.0.0.1. Their calls arrive, a flush of 2,500 events lands whole,
// and a batch retried after a 500 is applied once.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";
import { Analytics as SegmentAnalytics } from "@segment/analytics-node";
import { startServer } from "../scripts/local-server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

/** A write key as a user makes one: an API key of the tenant with scope group_api. */
async function writeKey(tenant) {
  const res = await fetch(`${server.base}/v1/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${await server.token(tenant, "admin")}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "analytics write key", scopes: ["group_api"] }),
  });
  assert.equal(res.status, 201);
  return (await res.json()).result.secret;
}

const native = async (tenant, path, scope = "groups:read") => {
  // undici says only "fetch failed": name the socket's own error, so a connection the local server dropped says so.
  const res = await fetch(`${server.base}${path}`, { headers: { authorization: `Bearer ${await server.token(tenant, scope)}` } }).catch(
    (e) => {
      throw new Error(`${path}: ${e.message} (${e.cause?.code ?? e.cause?.message ?? "no cause given"})`, { cause: e });
    },
  );
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return (await res.json()).result;
};

/** A proxy in front of the server that forwards the first batch but answers it 500, as a timeout after the write would. */
async function failFirstBatchProxy() {
  let failed = 0;
  const proxy = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const upstream = await fetch(`${server.base}${req.url}`, { method: req.method, headers: req.headers, body: Buffer.concat(chunks) });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (req.url.endsWith("/v1/batch") && failed === 0) {
      failed += 1;
      res.writeHead(500, { "content-type": "application/json" }).end('{"success":false}');
      return;
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" }).end(body);
  });
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${proxy.address().port}`, failures: () => failed, close: () => proxy.close() };
}

const clients = {
  segment: (writeKey, host) => {
    const a = new SegmentAnalytics({ writeKey, host, flushAt: 100, maxRetries: 5 });
    return { group: (e) => a.group(e), identify: (e) => a.identify(e), done: () => a.closeAndFlush({ timeout: 60_000 }) };
  },
  rudderstack: (writeKey, dataPlaneUrl) => {
    const a = new RudderAnalytics(writeKey, {
      dataPlaneUrl,
      flushAt: 100,
      flushInterval: 200,
      logLevel: "error",
      gzip: true,
      retryCount: 5,
    });
    return { group: (e) => a.group(e), identify: (e) => a.identify(e), done: () => a.flush() };
  },
};

for (const [sdk, make] of Object.entries(clients)) {
  describe(`${sdk} node SDK`, () => {
    it("delivers group and identify calls, and a flush of 2,500 events lands whole", async () => {
      const tenant = `e2e-${sdk}`;
      const client = make(await writeKey(tenant), server.base);
      client.identify({ userId: "alice", traits: { email: `alice@${sdk}.example`, name: "Alice", plan: "pro" } });
      client.group({ userId: "alice", groupId: "acme", traits: { name: "Acme Inc.", industry: "Tools" } });
      for (let i = 0; i < 2_500; i++) client.group({ userId: `user-${i}`, groupId: `team-${i % 10}`, traits: { size: i % 10 } });
      await client.done();

      const alice = await native(tenant, "/v1/users/alice");
      assert.equal(alice.email, `alice@${sdk}.example`);
      assert.equal(alice.name, "Alice");
      assert.deepEqual(alice.custom_data, { plan: "pro" });
      const acme = await native(tenant, "/v1/groups/acme");
      assert.equal(acme.name, "Acme Inc.");
      assert.equal(acme.member_count, 1);
      const teams = (await native(tenant, "/v1/groups?search=team-&limit=200")).filter((g) => g.name.startsWith("team-"));
      assert.equal(teams.length, 10);
      assert.equal(
        teams.reduce((n, g) => n + g.member_count, 0),
        2_500,
      );
      assert.ok(teams.every((g) => g.member_count === 250));
    });

    it("applies a batch retried after a 500 once", async () => {
      const tenant = `e2e-retry-${sdk}`;
      const proxy = await failFirstBatchProxy();
      try {
        const client = make(await writeKey(tenant), proxy.url);
        for (let i = 0; i < 10; i++) client.group({ userId: `r-${i}`, groupId: "retried", traits: { n: i } });
        await client.done();
        assert.equal(proxy.failures(), 1);
        assert.equal((await native(tenant, "/v1/groups/retried")).member_count, 10);
        // Applied once: the retry reached the group's coordinator but changed nothing, so the
        // ingests in its log (an SDK may split the 10 calls over batches) add up to 10 calls.
        const log = await native(tenant, "/v1/groups/retried/audit", "admin");
        const sum = (action, size) => log.filter((e) => e.action === action).reduce((n, e) => n + size(e.detail), 0);
        assert.equal(
          sum("tracking.group", (d) => d.events),
          10,
        );
        assert.equal(
          sum("members.add", (d) => d.user_ids.length),
          10,
        );
      } finally {
        proxy.close();
      }
    });
  });
}
