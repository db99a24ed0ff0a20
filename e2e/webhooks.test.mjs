// End-to-end: webhooks from the local server (npm start's, with its local Queue) to a receiver
// on 127.0.0.1 that verifies every delivery with the standardwebhooks package from npm (an
// implementation independent of the Worker's signing), fails the first two attempts of each
// message and then accepts. Each event arrives verified, each under one webhook-id.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { startServer } from "../scripts/local-server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

/** A receiver that answers 500 to the first two attempts of each webhook-id, then 200. */
async function flakyReceiver() {
  const attempts = [];
  let secret;
  const http = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString("utf8");
    const id = req.headers["webhook-id"];
    let verified = null;
    try {
      verified = new Webhook(secret).verify(body, req.headers);
    } catch (e) {
      verified = { error: String(e) };
    }
    const earlier = attempts.filter((a) => a.id === id).length;
    const status = earlier < 2 ? 500 : 200;
    attempts.push({ id, status, verified, at: Date.now() });
    res.writeHead(status).end();
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${http.address().port}/hook`,
    attempts,
    setSecret: (s) => {
      secret = s;
    },
    close: () => http.close(),
  };
}

async function api(tenant, method, path, body) {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${await server.token(tenant, "admin")}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function until(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("webhooks against the local server", () => {
  it("delivers every event, verified by an independent Standard Webhooks library, after two failed attempts each", async () => {
    const receiver = await flakyReceiver();
    try {
      const tenant = `e2e-webhooks-${Date.now()}`;
      const hook = await api(tenant, "POST", "/v1/webhooks", { url: receiver.url, types: ["group.created", "group.members.added"] });
      assert.equal(hook.status, 201, JSON.stringify(hook.json));
      receiver.setSecret(hook.json.result.secret);

      const group = await api(tenant, "POST", "/v1/groups", { name: "Webhooked" });
      assert.equal(group.status, 201);
      const added = await api(tenant, "POST", `/v1/groups/${group.json.result.group_id}/members`, { user_ids: ["ada", "grace"] });
      assert.equal(added.status, 200);
      const events = (await api(tenant, "GET", "/v1/events?types=group.created,group.members.added")).json.result;
      assert.deepEqual(
        events.map((e) => e.type),
        ["group.created", "group.members.added"],
      );

      // Local retries wait 2 s, then 4 s (.dev.vars.example).
      await until(() => events.every((e) => receiver.attempts.some((a) => a.id === e.id && a.status === 200)), 60_000);
      for (const e of events) {
        const mine = receiver.attempts.filter((a) => a.id === e.id);
        assert.deepEqual(
          mine.map((a) => a.status),
          [500, 500, 200],
          `${e.type}: one webhook-id, two failures, then accepted`,
        );
        for (const a of mine) {
          assert.equal(a.verified.error, undefined, `${e.type}: ${a.verified.error}`);
          assert.equal(a.verified.data.id, e.id);
          assert.equal(a.verified.type, e.type);
        }
        assert.ok(mine[1].at - mine[0].at >= 1_500, "the first retry waits its backoff");
        assert.ok(mine[2].at - mine[1].at >= mine[1].at - mine[0].at, "and the next waits longer");
      }
      assert.deepEqual(
        receiver.attempts.find((a) => a.status === 200 && a.verified.type === "group.members.added").verified.data.user_ids,
        ["ada", "grace"],
      );
      const deliveries = (await api(tenant, "GET", `/v1/webhooks/${hook.json.result.webhook_id}/deliveries`)).json.result;
      assert.deepEqual(
        deliveries.map((d) => [d.status, d.attempts, d.last_status]),
        [
          ["delivered", 3, 200],
          ["delivered", 3, 200],
        ],
      );
    } finally {
      receiver.close();
    }
  });
});
