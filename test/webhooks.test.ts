import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { Budget } from "../src/core/shared/budget";
import { database } from "../src/core/shared/context";
import {
  checkWebhookUrl,
  DELIVERY_RETENTION_MS,
  dispatchTenant,
  sweepWebhooks,
  WEBHOOK_LIMITS,
  WEBHOOK_SWEEP_CRON,
} from "../src/core/webhooks";
import { isPrivateAddress } from "../src/core/webhooks/rules";
import { arrangeEvents, type Client, client, env, eventually, expectError, freshTenant, runCron, shardOf, shardOfBound } from "./helpers";

interface Attempt {
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

const receiverName = () => `r-${Math.random().toString(36).slice(2, 10)}`;
const received = async (name: string): Promise<Attempt[]> => (await fetch(`https://hooks.test/received/${name}`)).json();
const admin = () => client(freshTenant("wh"), { scope: "admin", sub: "wh-admin" });

async function endpoint(api: Client, behaviour: "ok" | "fail-twice" | "down" | "slow", extra: Record<string, unknown> = {}) {
  const name = receiverName();
  const res = await api.post("/v1/webhooks", { url: `https://hooks.test/${behaviour}/${name}`, ...extra });
  expect(res.status, res.text).toBe(201);
  return { name, id: res.json.result.webhook_id as string, secret: res.json.result.secret as string };
}

async function deliveries(api: Client, id: string, query = "") {
  const res = await api.get(`/v1/webhooks/${id}/deliveries${query}`);
  expect(res.status, res.text).toBe(200);
  return res.json.result as { event_id: string; status: string; attempts: number; last_status: number | null; last_error: string | null }[];
}

/** A cron, as Cloudflare runs it: by default the per-minute sweep. */
const sweep = (cron = WEBHOOK_SWEEP_CRON) => runCron(cron);

const rows = async (sql: string, ...binds: unknown[]) =>
  (
    await (
      await shardOfBound(binds)
    )
      .prepare(sql)
      .bind(...binds)
      .all()
  ).results;

describe("webhook endpoints", () => {
  it("creates an endpoint with a secret shown once, lists, reads, updates and deletes it", async () => {
    const api = await admin();
    const created = await api.post("/v1/webhooks", {
      url: "https://hooks.test/ok/crud",
      types: ["group.created", "group.members.added"],
      description: "CRM sync",
    });
    expect(created.status, created.text).toBe(201);
    const hook = created.json.result;
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(hook).toMatchObject({ url: "https://hooks.test/ok/crud", types: ["group.created", "group.members.added"], paused: false });

    const listed = await api.get("/v1/webhooks");
    expect(listed.json.result).toEqual([{ ...hook, secret: undefined }].map(({ secret: _, ...h }) => h));
    expect(listed.text).not.toContain(hook.secret);
    expect((await api.get(`/v1/webhooks/${hook.webhook_id}`)).json.result.secret).toBeUndefined();

    const patched = await api.patch(`/v1/webhooks/${hook.webhook_id}`, { types: null, paused: true });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.result).toMatchObject({ types: null, paused: true, url: "https://hooks.test/ok/crud" });

    // The change stream records each change of an endpoint, never its secret.
    const events = await api.get("/v1/events?types=webhook.created,webhook.updated,webhook.deleted");
    expect(events.json.result.map((e: { type: string }) => e.type)).toEqual(["webhook.created", "webhook.updated"]);
    expect(events.text).not.toContain(hook.secret);
    expect(events.json.result[1].before).toMatchObject({ paused: false, types: ["group.created", "group.members.added"] });

    expect((await api.del(`/v1/webhooks/${hook.webhook_id}`)).status).toBe(200);
    expectError(await api.get(`/v1/webhooks/${hook.webhook_id}`), 404, "not_found");
    expect((await api.get("/v1/webhooks")).json.result).toEqual([]);
    expect(await rows("SELECT * FROM webhook_endpoints WHERE tenant_id = ?", api.tenant)).toEqual([]);
  });

  it("refuses URLs that are not https or point at private, loopback or link-local addresses, and changes nothing", async () => {
    const api = await admin();
    for (const url of [
      "http://hooks.example.com/x",
      "ftp://hooks.example.com/x",
      "not a url",
      "https://localhost/x",
      "https://api.localhost/x",
      "https://printer.local/x",
      "https://127.0.0.1/x",
      "https://0x7f.1/x",
      "https://10.1.2.3/x",
      "https://172.16.0.9/x",
      "https://192.168.1.1/x",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/x",
      "https://[::1]/x",
      "https://[fe80::1]/x",
      "https://[fd00::1]/x",
      "https://[::ffff:127.0.0.1]/x",
      "https://localhost./x",
      "https://printer.local./x",
      "https://[::7f00:1]/x",
      "https://[::ffff:0:a00:1]/x",
      "https://[64:ff9b::7f00:1]/x",
      "https://[64:ff9b::a9fe:a9fe]/x",
      "https://[64:ff9b:1::1]/x",
      "https://[2002:7f00:1::]/x",
      "https://[2002:c0a8:101::1]/x",
      "https://user:pass@hooks.example.com/x",
      `https://hooks.example.com/${"a".repeat(WEBHOOK_LIMITS.urlLength)}`,
    ]) {
      const res = await api.post("/v1/webhooks", { url });
      expect(res.status, `${url}: ${res.text}`).toBe(400);
      expect(res.json.error.details[0].field, url).toBe("url");
    }
    expect((await api.get("/v1/webhooks")).json.result).toEqual([]);
    const kept = await endpoint(api, "ok");
    expectError(await api.patch(`/v1/webhooks/${kept.id}`, { url: "https://10.0.0.1/x" }), 400, "invalid");
    expect((await api.get(`/v1/webhooks/${kept.id}`)).json.result.url).toMatch(/^https:\/\/hooks\.test\/ok\//);
  });

  it("lets http://127.0.0.1 and localhost through only with the local-development setting", () => {
    for (const url of ["http://127.0.0.1:9999/hook", "http://localhost:8080/hook", "https://[::1]/hook"]) {
      expect(() => checkWebhookUrl(url, false), url).toThrow();
      expect(checkWebhookUrl(url, true)).toBe(new URL(url).href);
    }
    // Only loopback: the setting does not open the private network.
    for (const url of ["http://10.0.0.1/hook", "http://hooks.example.com/hook", "https://192.168.0.1/hook"]) {
      expect(() => checkWebhookUrl(url, true), url).toThrow();
    }
    expect(checkWebhookUrl("https://hooks.example.com/x?y=1", false)).toBe("https://hooks.example.com/x?y=1");
  });

  it("refuses an IPv6 host it cannot read rather than guess", () => {
    expect(isPrivateAddress("[not:an:address]")).toBe(true);
    expect(isPrivateAddress("[1:2:3:4:5:6:7:8:9]")).toBe(true);
    expect(isPrivateAddress("[2606:4700::1111]")).toBe(false);
  });

  it("lets through IPv6 addresses on the internet, also those that carry a public IPv4 address", () => {
    for (const url of [
      "https://[2606:4700::1111]/hook",
      "https://[64:ff9b::808:808]/hook",
      "https://[2002:808:808::1]/hook",
      "https://[::ffff:808:808]/hook",
    ]) {
      expect(checkWebhookUrl(url, false)).toBe(new URL(url).href);
    }
  });

  it("refuses bad bodies, unknown types, unknown ids and another tenant's endpoint", async () => {
    const api = await admin();
    expectError(await api.post("/v1/webhooks", { url: "https://hooks.test/ok/x", types: ["group.exploded"] }), 400, "invalid");
    expectError(await api.post("/v1/webhooks", { url: "https://hooks.test/ok/x", types: [] }), 400, "invalid");
    expectError(await api.post("/v1/webhooks", { url: 42 }), 400, "invalid");
    expectError(await api.post("/v1/webhooks", { url: "https://hooks.test/ok/x", secret: "mine" }), 400, "invalid");
    expectError(await api.patch("/v1/webhooks/nope", { paused: true }), 404, "not_found");
    expectError(await api.del("/v1/webhooks/nope"), 404, "not_found");
    expectError(await api.get("/v1/webhooks/nope/deliveries"), 404, "not_found");
    expectError(await api.post("/v1/webhooks/nope/deliveries/evt/redeliver"), 404, "not_found");
    const mine = await endpoint(api, "ok");
    expectError(await api.patch(`/v1/webhooks/${mine.id}`, {}), 400, "invalid");
    const other = await admin();
    expectError(await other.get(`/v1/webhooks/${mine.id}`), 404, "not_found");
    expectError(await other.patch(`/v1/webhooks/${mine.id}`, { paused: true }), 404, "not_found");
    expectError(await other.del(`/v1/webhooks/${mine.id}`), 404, "not_found");
    expect((await api.get(`/v1/webhooks/${mine.id}`)).json.result.paused).toBe(false);
    const reader = await client(api.tenant, { scope: "groups:read events:read" });
    expectError(await reader.get("/v1/webhooks"), 403, "forbidden");
    expectError(await reader.post("/v1/webhooks", { url: "https://hooks.test/ok/x" }), 403, "forbidden");
    expect((await api.get("/v1/webhooks")).json.result).toHaveLength(1);
  });

  it(`holds at most ${WEBHOOK_LIMITS.endpointsPerTenant} endpoints per tenant`, async () => {
    const api = await admin();
    for (let i = 0; i < WEBHOOK_LIMITS.endpointsPerTenant; i += 1) {
      expect((await api.post("/v1/webhooks", { url: `https://hooks.test/ok/limit-${i}` })).status).toBe(201);
    }
    expectError(await api.post("/v1/webhooks", { url: "https://hooks.test/ok/one-too-many" }), 422, "limit_exceeded");
    expect((await api.get("/v1/webhooks")).json.result).toHaveLength(WEBHOOK_LIMITS.endpointsPerTenant);
  });
});

describe("webhook deliveries", () => {
  it("delivers each event of the endpoint's types, signed per Standard Webhooks, after the change answered", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.created", "group.members.added"] });
    const group = (await api.post("/v1/groups", { name: "Delivered" })).json.result.group_id;
    const added = await api.post(`/v1/groups/${group}/members`, { user_ids: ["ada", "grace"] });
    expect(added.status).toBe(200);
    await api.patch(`/v1/groups/${group}`, { description: "not a subscribed type" });

    await eventually(async () => (await received(hook.name)).length >= 2, 15_000, 100);
    await new Promise((r) => setTimeout(r, 1_500)); // nothing else arrives
    // Deliveries carry no order (see README): put them in the stream's order by their cursor.
    const cursorOf = (a: Attempt) => Number(JSON.parse(a.body).data.cursor);
    const attempts = (await received(hook.name)).sort((a, b) => cursorOf(a) - cursorOf(b));
    expect(attempts).toHaveLength(2);
    const verifier = new Webhook(hook.secret);
    const payloads = attempts.map((a) => verifier.verify(a.body, a.headers) as { type: string; data: any });
    expect(payloads.map((p) => p.type)).toEqual(["group.created", "group.members.added"]);
    expect(payloads[1]!.data).toMatchObject({ type: "group.members.added", group_id: group, user_ids: ["ada", "grace"], source: "native" });
    // webhook-id is the event's id, as GET /v1/events has it.
    const events = (await api.get("/v1/events?types=group.created,group.members.added")).json.result;
    expect(attempts.map((a) => a.headers["webhook-id"])).toEqual(events.map((e: { id: string }) => e.id));
    // A tampered body or another secret fails verification.
    expect(() => verifier.verify(attempts[0]!.body.replace("Delivered", "Tampered"), attempts[0]!.headers)).toThrow();
    expect(() =>
      new Webhook(`whsec_${btoa("another secret of 32 bytes......")}`).verify(attempts[0]!.body, attempts[0]!.headers),
    ).toThrow();

    const listed = await deliveries(api, hook.id);
    expect(listed.map((d) => [d.event_id, d.status, d.attempts, d.last_status])).toEqual(
      events.reverse().map((e: { id: string }) => [e.id, "delivered", 1, 200]),
    );
  });

  it("retries a failing receiver with the same webhook-id until it accepts", async () => {
    const api = await admin();
    const hook = await endpoint(api, "fail-twice");
    await api.post("/v1/groups", { name: "Retried" });
    await eventually(async () => (await received(hook.name)).some((a) => a.status === 200), 30_000, 200);
    const attempts = await received(hook.name);
    expect(attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((a) => a.headers["webhook-id"])).size).toBe(1);
    for (const a of attempts) new Webhook(hook.secret).verify(a.body, a.headers);
    expect((await deliveries(api, hook.id)).map((d) => [d.status, d.attempts, d.last_status])).toEqual([["delivered", 3, 200]]);
  });

  it("marks a delivery dead after its last attempt, and redelivers it on request with the same webhook-id", async () => {
    const api = await admin();
    const hook = await endpoint(api, "down");
    const made = await api.post("/v1/groups", { name: "Unreachable" });
    // A receiver that is down never slows the change.
    expect(made.status).toBe(201);
    await eventually(async () => (await received(hook.name)).length >= 1, 15_000, 100);
    const [first] = await deliveries(api, hook.id);
    expect(first).toMatchObject({ status: "pending", last_status: 503, last_error: "answered 503" });
    expect(first!.attempts).toBeGreaterThanOrEqual(1);
    // The retries between (1 s, 2 s, ... here) are spent as if hours had passed, so the next
    // failure is the last; raised on every poll, in case a retry's own count lands in between.
    await eventually(
      async () => {
        await (await shardOf(api.tenant))
          .prepare(
            "UPDATE webhook_deliveries SET attempts = max(attempts, ?) WHERE tenant_id = ? AND endpoint_id = ? AND status = 'pending'",
          )
          .bind(WEBHOOK_LIMITS.attempts - 1, api.tenant, hook.id)
          .run();
        return (await deliveries(api, hook.id, "?status=dead")).length === 1;
      },
      20_000,
      200,
    );
    const [dead] = await deliveries(api, hook.id, "?status=dead");
    expect(dead).toMatchObject({ event_id: first!.event_id, attempts: WEBHOOK_LIMITS.attempts, last_status: 503 });
    // Dead: no more attempts come.
    const tried = (await received(hook.name)).length;
    expect(tried).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await received(hook.name)).length).toBe(tried);

    const again = await api.post(`/v1/webhooks/${hook.id}/deliveries/${first!.event_id}/redeliver`);
    expect(again.status, again.text).toBe(202);
    expect(again.json.result).toMatchObject({ event_id: first!.event_id, status: "pending", attempts: 0 });
    await eventually(async () => (await received(hook.name)).length > tried, 15_000, 100);
    expect(new Set((await received(hook.name)).map((a) => a.headers["webhook-id"]))).toEqual(new Set([first!.event_id]));
    const [after] = await deliveries(api, hook.id);
    expect(after!.status).toBe("pending");
    expect(after!.attempts).toBeGreaterThanOrEqual(1);
    await api.del(`/v1/webhooks/${hook.id}`); // its retries stop with it
  });

  it("holds deliveries while paused and sends what waited on resume, each carrying its cursor for ordering", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.created"] });
    await api.patch(`/v1/webhooks/${hook.id}`, { paused: true });
    for (const name of ["First", "Second", "Third"]) await api.post("/v1/groups", { name });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await received(hook.name)).toEqual([]);
    expect(await deliveries(api, hook.id)).toEqual([]);
    expect((await api.patch(`/v1/webhooks/${hook.id}`, { paused: false })).status).toBe(200);
    await eventually(async () => (await received(hook.name)).length >= 3, 15_000, 100);
    await new Promise((r) => setTimeout(r, 1_000)); // nothing more arrives
    const events = (await api.get("/v1/events?types=group.created")).json.result as { id: string; cursor: string }[];
    // A Queue keeps no order and a batch is posted in parallel: the receiver orders by cursor.
    const arrived = (await received(hook.name)).map((a) => JSON.parse(a.body).data as { id: string; cursor: string });
    expect(arrived.map((d) => d.id).sort()).toEqual(events.map((e) => e.id).sort());
    expect([...arrived].sort((a, b) => Number(a.cursor) - Number(b.cursor)).map((d) => d.id)).toEqual(events.map((e) => e.id));
    expect((await deliveries(api, hook.id)).map((d) => d.status)).toEqual(["delivered", "delivered", "delivered"]);
  });

  it("delivers an event whose message was never sent: the sweep finds it in the outbox", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.created"] });
    await api.patch(`/v1/webhooks/${hook.id}`, { paused: true });
    await api.post("/v1/groups", { name: "Outboxed" });
    // As if the change committed and the isolate died before its dispatch: the endpoint is
    // active, its outbox behind the events.
    await (await shardOf(api.tenant))
      .prepare("UPDATE webhook_endpoints SET paused = 0 WHERE tenant_id = ? AND id = ?")
      .bind(api.tenant, hook.id)
      .run();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await received(hook.name)).toEqual([]);
    await sweep();
    await eventually(async () => (await received(hook.name)).length === 1, 15_000, 100);
    expect(JSON.parse((await received(hook.name))[0]!.body).type).toBe("group.created");

    // A delivery in the outbox whose message was lost (its lease ran out) is sent again.
    await (await shardOf(api.tenant))
      .prepare("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = 0 WHERE tenant_id = ?")
      .bind(api.tenant)
      .run();
    await sweep();
    await eventually(async () => (await received(hook.name)).length === 2, 15_000, 100);
    const [d] = await deliveries(api, hook.id);
    expect(d).toMatchObject({ status: "delivered", attempts: 2 });
  });

  it("sends an event too large for one message as a reference the receiver fetches", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.members.added"] });
    const group = (await api.post("/v1/groups", { name: "Large" })).json.result.group_id;
    const ids = Array.from({ length: 1_000 }, (_, i) => `${String(i).padStart(4, "0")}${"u".repeat(124)}`);
    expect((await api.post(`/v1/groups/${group}/members`, { user_ids: ids })).status).toBe(200);
    await eventually(async () => (await received(hook.name)).length === 1, 15_000, 100);
    const [a] = await received(hook.name);
    expect(a!.body.length).toBeLessThan(2_000);
    const payload = new Webhook(hook.secret).verify(a!.body, a!.headers) as { type: string; data: any };
    expect(payload.data).toMatchObject({ type: "group.members.added", truncated: true, group_id: group });
    const fetched = await api.get(payload.data.fetch);
    expect(fetched.json.result).toHaveLength(1);
    expect(fetched.json.result[0].id).toBe(payload.data.id);
    expect(fetched.json.result[0].user_ids).toHaveLength(1_000);
  });

  it("drops queued deliveries of a deleted endpoint", async () => {
    const api = await admin();
    const hook = await endpoint(api, "down");
    await api.post("/v1/groups", { name: "Orphaned" });
    await eventually(async () => (await received(hook.name)).length >= 1, 15_000, 100);
    expect((await api.del(`/v1/webhooks/${hook.id}`)).status).toBe(200);
    expect(await rows("SELECT * FROM webhook_deliveries WHERE tenant_id = ?", api.tenant)).toEqual([]);
    await new Promise((r) => setTimeout(r, 500)); // an attempt already under way when it went may still land
    const tried = (await received(hook.name)).length;
    await new Promise((r) => setTimeout(r, 4_000)); // past the next retries' delays (1 s, 2 s here)
    expect((await received(hook.name)).length).toBe(tried);
  });

  it("forgets settled deliveries past their 30 days in the daily cron, and keeps pending ones", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.created"] });
    for (const name of ["Old", "Older", "Waiting"]) await api.post("/v1/groups", { name });
    await eventually(async () => (await deliveries(api, hook.id, "?status=delivered")).length === 3, 15_000, 100);
    const [waiting, older, old] = await deliveries(api, hook.id);
    const age = async (eventId: string, status: string) =>
      (await shardOf(api.tenant))
        .prepare("UPDATE webhook_deliveries SET status = ?, next_attempt_at = ? WHERE tenant_id = ? AND event_id = ?")
        .bind(status, Date.now() - DELIVERY_RETENTION_MS - 60_000, api.tenant, eventId)
        .run();
    await age(old!.event_id, "delivered");
    await age(older!.event_id, "dead");
    await age(waiting!.event_id, "pending");
    await sweep("17 3 * * *");
    expect((await deliveries(api, hook.id)).map((d) => d.event_id)).toEqual([waiting!.event_id]);
  });

  it("rotates the signing secret: both sign during the grace, then only the new one; the secret shows once", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.created"] });
    const rotated = await api.post(`/v1/webhooks/${hook.id}/rotate-secret`, { grace_seconds: 3600 });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.json.result.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(hook.secret);
    expect(rotated.json.result.previous_secret_expires_at).toBeGreaterThan(Date.now() / 1000 + 3500);
    const read = await api.get(`/v1/webhooks/${hook.id}`);
    expect(read.text).not.toContain(fresh);
    expect(read.text).not.toContain(hook.secret);

    await api.post("/v1/groups", { name: "During the grace" });
    await eventually(async () => (await received(hook.name)).length === 1, 15_000, 100);
    const [during] = await received(hook.name);
    expect(during!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    for (const secret of [fresh, hook.secret]) new Webhook(secret).verify(during!.body, during!.headers);

    // No grace: the old secret stops signing at once.
    const now = await api.post(`/v1/webhooks/${hook.id}/rotate-secret`, { grace_seconds: 0 });
    expect(now.json.result.previous_secret_expires_at).toBeNull();
    await api.post("/v1/groups", { name: "After" });
    await eventually(async () => (await received(hook.name)).length === 2, 15_000, 100);
    const after = (await received(hook.name))[1]!;
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    new Webhook(now.json.result.secret).verify(after.body, after.headers);
    expect(() => new Webhook(fresh).verify(after.body, after.headers)).toThrow();

    const events = (await api.get("/v1/events?types=webhook.updated")).json.result;
    expect(events.map((e: any) => e.detail.secret_rotated)).toEqual([true, true]);
    expect(JSON.stringify(events)).not.toContain("whsec_");
    expectError(await api.post(`/v1/webhooks/${hook.id}/rotate-secret`, { grace_seconds: 8 * 24 * 3600 }), 400, "invalid");
    expectError(await api.post("/v1/webhooks/nope/rotate-secret", {}), 404, "not_found");
    expectError(await (await admin()).post(`/v1/webhooks/${hook.id}/rotate-secret`, {}), 404, "not_found");
  });

  it("never lets a receiver that does not answer slow the change: the attempt times out after 10 s and is retried", async () => {
    const api = await admin();
    const hook = await endpoint(api, "slow", { types: ["group.created"] });
    const started = Date.now();
    const made = await api.post("/v1/groups", { name: "Slowly received" });
    expect(made.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(WEBHOOK_LIMITS.timeoutMs / 2);
    await eventually(async () => (await deliveries(api, hook.id))[0]?.attempts === 1, 20_000, 200);
    const [d] = await deliveries(api, hook.id);
    expect(d).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status: null,
      last_error: `no answer within ${WEBHOOK_LIMITS.timeoutMs} ms`,
    });
    // The group is there whatever the receiver does.
    expect((await api.get(`/v1/groups/${made.json.result.group_id}`)).status).toBe(200);
    await api.del(`/v1/webhooks/${hook.id}`); // its retries stop with it
  }, 40_000);

  it("bounds one dispatch's messages (an invocation's subrequests); the next dispatch takes the rest", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.updated"] });
    // 30 events arranged in D1, as if written while no dispatch ran.
    await arrangeEvents(api.tenant, 30, "b");
    const db = database(await shardOf(api.tenant));
    expect(await dispatchTenant(db, env.WEBHOOKS, api.tenant, Date.now(), 12)).toBe(12);
    expect(await rows("SELECT cursor FROM webhook_deliveries WHERE tenant_id = ?", api.tenant)).toHaveLength(12);
    expect(await dispatchTenant(db, env.WEBHOOKS, api.tenant, Date.now(), 12)).toBe(12);
    expect(await dispatchTenant(db, env.WEBHOOKS, api.tenant, Date.now(), 12)).toBe(6);
    expect(await dispatchTenant(db, env.WEBHOOKS, api.tenant, Date.now(), 12)).toBe(0);
    await eventually(async () => (await received(hook.name)).length === 30, 30_000, 200);
    const ids = (await received(hook.name)).map((a) => a.headers["webhook-id"]);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: 30 }, (_, i) => `b${i + 1}`)));
  });

  it("keeps the sweep inside the cron's share: what the share does not cover waits, untouched, for the next run", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.updated"] });
    // 150 events arranged in D1, as if written while no dispatch ran.
    await arrangeEvents(api.tenant, 150, "s");
    const db = database(await shardOf(api.tenant));
    const sweepWithin = (subrequests: number) => sweepWebhooks(db, env.WEBHOOKS, Date.now(), undefined, new Budget(subrequests));
    const outbox = async () =>
      (await rows("SELECT event_id, next_attempt_at FROM webhook_deliveries WHERE tenant_id = ? ORDER BY cursor", api.tenant)) as {
        event_id: string;
        next_attempt_at: number;
      }[];
    const enqueuedThrough = async () =>
      (await rows("SELECT enqueued_through FROM webhook_endpoints WHERE tenant_id = ? AND id = ?", api.tenant, hook.id))[0]!
        .enqueued_through as number;
    const start = await enqueuedThrough();

    // 20 subrequests cover the resend's 11, not a dispatch's rounds and its first 100 messages: nothing is dispatched.
    await sweepWithin(20);
    expect(await outbox()).toEqual([]);
    expect(await enqueuedThrough()).toBe(start);

    // 24 cover one send of 100: the first 100 events go, the other 50 wait.
    await sweepWithin(24);
    expect((await outbox()).map((d) => d.event_id)).toEqual(Array.from({ length: 100 }, (_, i) => `s${i + 1}`));
    const through = await enqueuedThrough();
    expect(through).toBeGreaterThan(start);
    await eventually(async () => (await received(hook.name)).length === 100, 30_000, 200);

    // Their messages lost, as far as the outbox knows: due again.
    await (await shardOf(api.tenant))
      .prepare("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = 0 WHERE tenant_id = ?")
      .bind(api.tenant)
      .run();
    // One subrequest covers neither the resend's UPDATE and a send, nor a dispatch: the due deliveries stay as they were.
    expect(await sweepWithin(1)).toEqual({ dispatched: 0, resent: 0 });
    expect((await outbox()).every((d) => d.next_attempt_at === 0)).toBe(true);
    // 12 cover the resend and not a dispatch: the due deliveries are leased and sent again, the 50 events still wait.
    const resent = await sweepWithin(12);
    expect(resent.dispatched).toBe(0);
    expect(resent.resent).toBeGreaterThanOrEqual(100);
    expect((await outbox()).every((d) => d.next_attempt_at > 0)).toBe(true);
    expect(await enqueuedThrough()).toBe(through);
    await eventually(async () => (await received(hook.name)).length === 200, 30_000, 200);

    // A whole run's share takes the rest.
    await sweepWithin(950);
    expect(await outbox()).toHaveLength(150);
    await eventually(async () => (await received(hook.name)).length === 250, 30_000, 200);
    const ids = (await received(hook.name)).map((a) => a.headers["webhook-id"]);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: 150 }, (_, i) => `s${i + 1}`)));
  }, 60_000);

  it("counts a dispatch's share in the tenant's own events: other tenants' events in between never starve it", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.updated"] });
    // 1,000 events of another tenant, then one of this tenant's, arranged in D1 (no dispatch ran).
    await arrangeEvents(freshTenant("wh-busy-neighbour"), 1_000, "n");
    await arrangeEvents(api.tenant, 1, "mine");
    expect(await dispatchTenant(database(await shardOf(api.tenant)), env.WEBHOOKS, api.tenant, Date.now(), 5)).toBe(1);
    await eventually(async () => (await received(hook.name)).length === 1, 15_000, 100);
    expect((await received(hook.name))[0]!.headers["webhook-id"]).toBe("mine1");
  });

  it("pages deliveries newest first with before, refuses a bad before or an unknown event, and marks an event past its retention dead", async () => {
    const api = await admin();
    const hook = await endpoint(api, "ok", { types: ["group.created"] });
    for (const name of ["One", "Two", "Three"]) await api.post("/v1/groups", { name });
    await eventually(async () => (await deliveries(api, hook.id, "?status=delivered")).length === 3, 15_000, 100);
    const first = await api.get(`/v1/webhooks/${hook.id}/deliveries?limit=2`);
    expect(first.json.result).toHaveLength(2);
    expect(first.json.next_before).toBe(first.json.result[1].cursor);
    const rest = await api.get(`/v1/webhooks/${hook.id}/deliveries?limit=2&before=${first.json.next_before}`);
    expect(rest.json).toMatchObject({ next_before: null });
    const all = (await deliveries(api, hook.id)).map((d) => d.event_id);
    expect([...first.json.result, ...rest.json.result].map((d: { event_id: string }) => d.event_id)).toEqual(all);
    expectError(await api.get(`/v1/webhooks/${hook.id}/deliveries?before=yesterday`), 400, "invalid");
    expectError(await api.get(`/v1/webhooks/${hook.id}/deliveries?status=lost`), 400, "invalid");
    expectError(await api.post(`/v1/webhooks/${hook.id}/deliveries/no-such-event/redeliver`), 404, "not_found");
    expectError(await api.post("/v1/webhooks", { url: "https://hooks.test/ok/x", description: "d".repeat(501) }), 400, "invalid");

    // The oldest event is forgotten (its retention passed); redelivering it ends dead, saying why.
    const oldest = all.at(-1)!;
    await (await shardOf(api.tenant)).prepare("DELETE FROM audit_log WHERE tenant_id = ? AND id = ?").bind(api.tenant, oldest).run();
    expect((await api.post(`/v1/webhooks/${hook.id}/deliveries/${oldest}/redeliver`)).status).toBe(202);
    await eventually(async () => (await deliveries(api, hook.id, "?status=dead")).length === 1, 15_000, 100);
    const [dead] = await deliveries(api, hook.id, "?status=dead");
    expect(dead).toMatchObject({ event_id: oldest, last_error: "the event is past its retention" });
    expect((await received(hook.name)).filter((a) => a.headers["webhook-id"] === oldest)).toHaveLength(1);
  });
});
