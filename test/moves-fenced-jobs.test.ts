// From a move's fence to its cleaning, a shard's triggers refuse every write of the moving tenant's rows
// (migration 0013). The jobs that span a shard's tenants (the crons, the webhook queue's consumer) leave
// that tenant's rows for later instead of failing whole on one of them.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { purgeExpiredEvents } from "../src/core/events/retention";
import { owedToken } from "../src/core/rules";
import { database } from "../src/core/shared/context";
import { DELIVERY_RETENTION_MS, purgeDeliveries, WEBHOOK_SWEEP_CRON, type WebhookMessage } from "../src/core/webhooks";
import worker from "../src/index";
import { client, env, eventually, fenceTenant, freshTenant, memberIdsOf, placeInDirectory, placeOn, runCron, shardOf } from "./helpers";

const received = async (name: string) => ((await (await fetch(`https://hooks.test/received/${name}`)).json()) as unknown[]).length;

let unfence: (() => Promise<void>) | undefined;
afterEach(async () => {
  await unfence?.();
  unfence = undefined;
});

/**
 * Two tenants on one shard, each with a webhook endpoint and two delivered events; then the first one's delivery
 * settled two months ago (past the retention), the second one's message lost (pending, due). `moving` is then fenced
 * there (fenceTenant).
 */
async function twoTenantsOneFenced() {
  const [moving, beside] = [freshTenant("fenced"), freshTenant("beside")];
  for (const tenant of [moving, beside]) {
    await placeOn(tenant, "DB_2");
    const api = await client(tenant, { scope: "admin" });
    expect((await api.post("/v1/webhooks", { url: `https://hooks.test/ok/${tenant}` })).status).toBe(201);
    for (const name of ["One", "Two"]) expect((await api.post("/v1/groups", { name })).status).toBe(201);
    await eventually(async () => (await received(tenant)) === 2, 15_000, 50);
  }
  const db = await shardOf(moving);
  const rows = async (tenant: string) =>
    (
      await db
        .prepare(
          "SELECT endpoint_id, cursor, status, attempts, next_attempt_at FROM webhook_deliveries WHERE tenant_id = ? ORDER BY cursor",
        )
        .bind(tenant)
        .all<{ endpoint_id: string; cursor: number; status: string; attempts: number; next_attempt_at: number }>()
    ).results;
  for (const tenant of [moving, beside]) {
    const [settled, lost] = await rows(tenant);
    await db.batch([
      db.prepare("UPDATE webhook_deliveries SET next_attempt_at = 1 WHERE tenant_id = ? AND cursor = ?").bind(tenant, settled!.cursor),
      db
        .prepare("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = 2 WHERE tenant_id = ? AND cursor = ?")
        .bind(tenant, lost!.cursor),
    ]);
  }
  unfence = await fenceTenant(moving);
  return { moving, beside, rows };
}

/** Hand these messages to the Worker's queue consumer as one batch: the ids it acknowledged, and those it retries. */
async function consumed(messages: { id: string; body: WebhookMessage }[]) {
  const batch = createMessageBatch<WebhookMessage>(
    "edge-groups-webhooks",
    messages.map((m) => ({ ...m, timestamp: new Date(), attempts: 1 })),
  );
  const ctx = createExecutionContext();
  await worker.queue!(batch, env);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks, retried: result.retryMessages.map((m: { msgId: string }) => m.msgId) };
}

describe("jobs over a shard's tenants while a move fences one of them", () => {
  it("the crons' sweeps and purges go on for the other tenants, and leave the fenced one's rows as they were", async () => {
    const { moving, beside, rows } = await twoTenantsOneFenced();
    const before = await rows(moving);
    for (const cron of [WEBHOOK_SWEEP_CRON, "17 3 * * *"]) {
      await runCron(cron);
    }
    // beside: the lost message sent again and delivered, the settled delivery past its retention forgotten.
    await eventually(async () => (await received(beside)) === 3, 15_000, 50);
    await eventually(async () => (await rows(beside)).every((d) => d.status === "delivered"), 15_000, 50);
    expect(await rows(beside)).toHaveLength(1);
    expect(await rows(moving)).toEqual(before);
    expect(await received(moving)).toBe(2);
  });

  it("the owed rule work leaves a fenced tenant's marks as they were, with no failure, and does it once the fence is gone", async () => {
    const tenant = freshTenant("fenced-owed");
    await placeOn(tenant, "DB_2");
    const api = await client(tenant, { scope: "admin" });
    expect((await api.put("/v1/users/ann", { custom_data: { dept: "sales" } })).status).toBe(201);
    const group = (await api.post("/v1/groups", { name: "Sales" })).json.result.group_id as string;
    expect((await api.put(`/v1/groups/${group}/rule`, { expression: 'custom_data.dept eq "sales"' })).status).toBe(201);
    const db = await shardOf(tenant);
    // A rule change whose request was cut off before its reconcile: ann not yet a member, the mark two minutes old.
    const old = owedToken(Date.now() - 120_000);
    await db.batch([
      db.prepare("DELETE FROM memberships WHERE tenant_id = ? AND group_id = ?").bind(tenant, group),
      db.prepare("UPDATE groups SET rule_owed = ?, member_count = 0 WHERE tenant_id = ? AND id = ?").bind(old, tenant, group),
    ]);
    const mark = async () =>
      (await db.prepare("SELECT rule_owed FROM groups WHERE tenant_id = ? AND id = ?").bind(tenant, group).first<{ rule_owed: number }>())!
        .rule_owed;
    unfence = await fenceTenant(tenant);
    const errors = vi.spyOn(console, "error");
    try {
      await runCron();
      expect(errors.mock.calls.flat().join("\n")).not.toContain(tenant);
    } finally {
      errors.mockRestore();
    }
    expect(await mark()).toBe(old);
    await unfence();
    unfence = undefined;
    await runCron();
    expect(await mark()).toBeNull();
    expect(await memberIdsOf(api, group)).toEqual(["ann"]);
  });

  // While a move copies a tenant, its shard's triggers log every row a purge deletes, and D1 counts those log rows among
  // the statement's changes: the purge's count is the rows it deleted.
  it("a purge counts the rows it deleted, not the move log's, while a move copies a tenant", async () => {
    const { moving, rows } = await twoTenantsOneFenced();
    const db = await shardOf(moving);
    await db.prepare("UPDATE tenant_moves_out SET state = 'copying' WHERE tenant_id = ?").bind(moving).run();
    await db.prepare("UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = 1 WHERE tenant_id = ?").bind(moving).run();
    const due = async () =>
      (await db
        .prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE status IN ('delivered', 'dead') AND next_attempt_at < ?")
        .bind(Date.now() - DELIVERY_RETENTION_MS)
        .first<{ n: number }>())!.n;
    const logged = async () =>
      (await db
        .prepare("SELECT count(*) AS n FROM tenant_move_log WHERE tenant_id = ? AND table_name = 'webhook_deliveries'")
        .bind(moving)
        .first<{ n: number }>())!.n;
    const [expected, loggedBefore] = [await due(), await logged()];
    expect(expected).toBeGreaterThanOrEqual(2);
    expect(await purgeDeliveries(database(db))).toBe(expected);
    expect(await rows(moving)).toEqual([]);
    expect(await due()).toBe(0);
    // The copy still learns of each deletion.
    expect(await logged()).toBe(loggedBefore + 2);
  });

  it("the events purge leaves a fenced tenant's expired events, and counts a copying tenant's by the events it deleted", async () => {
    const [fenced, copying] = [freshTenant("events-fenced"), freshTenant("events-copying")];
    const longAgo = Date.now() - 40 * 24 * 3600 * 1000;
    for (const tenant of [fenced, copying]) {
      await placeOn(tenant, "DB_3");
      await (await shardOf(tenant))
        .prepare(
          `INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, detail)
           SELECT ?, 'old-' || value, ?, 'arranged', 'native', 'group.update', 'group', 'g', '{}' FROM json_each('[1,2,3]')`,
        )
        .bind(tenant, longAgo)
        .run();
    }
    const db = await shardOf(fenced);
    unfence = await fenceTenant(fenced);
    await db.prepare("INSERT INTO tenant_moves_out (tenant_id, state) VALUES (?, 'copying')").bind(copying).run();
    const events = async (tenant: string) =>
      (await db.prepare("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ?").bind(tenant).first<{ n: number }>())!.n;
    const expired = async () =>
      (await db
        .prepare("SELECT count(*) AS n FROM audit_log WHERE at < ?")
        .bind(Date.now() - 31 * 24 * 3600 * 1000)
        .first<{ n: number }>())!.n;
    try {
      // Every shard's expired events but the fenced tenant's three.
      const expected = (await expired()) - 3;
      expect(await purgeExpiredEvents(database(db))).toBe(expected);
      expect(await events(fenced)).toBe(3);
      expect(await events(copying)).toBe(0);
    } finally {
      await db.prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(copying).run();
    }
  });

  it("the webhook queue's consumer delivers the other tenants' messages, and holds the fenced one's unsent", async () => {
    const { moving, beside, rows } = await twoTenantsOneFenced();
    const lost = async (tenant: string) => (await rows(tenant)).find((d) => d.status === "pending")!;
    const before = await lost(moving);
    const message = async (tenant: string, id: string) => {
      const d = await lost(tenant);
      return { id, body: { tenant, endpoint: d.endpoint_id, cursor: d.cursor } };
    };
    expect(await consumed([await message(moving, "m-moving"), await message(beside, "m-beside")])).toEqual({
      acked: ["m-beside"],
      retried: ["m-moving"],
    });
    expect(await received(beside)).toBe(3);
    expect((await rows(beside)).map((d) => d.status)).toEqual(["delivered", "delivered"]);
    expect(await received(moving)).toBe(2);
    expect(await lost(moving)).toEqual(before);
  });
  it("the webhook queue's consumer retries only the messages of a tenant it cannot reach, and delivers the others'", async () => {
    const { beside, rows } = await twoTenantsOneFenced();
    const lost = (await rows(beside)).find((d) => d.status === "pending")!;
    // A tenant the directory places on a shard this deployment does not have: its database cannot be opened.
    const unreachable = freshTenant("unreachable");
    await placeInDirectory(unreachable, "DB_9");
    const messages = [
      { id: "m-unreachable", body: { tenant: unreachable, endpoint: "e", cursor: 1 } },
      { id: "m-beside", body: { tenant: beside, endpoint: lost.endpoint_id, cursor: lost.cursor } },
    ];
    expect(await consumed(messages)).toEqual({ acked: ["m-beside"], retried: ["m-unreachable"] });
    expect(await received(beside)).toBe(3);
    expect((await rows(beside)).map((d) => d.status)).toEqual(["delivered", "delivered"]);
  });
});
