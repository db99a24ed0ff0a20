// The outbox: events become deliveries (one row per endpoint and event, in D1) before any
// message is sent, so an event whose send fails after its change committed is still
// delivered: the sweep sends again every pending delivery whose lease ran out.
import { sql } from "drizzle-orm";
import { actionsOf, type EventType } from "../events";
import { takesWrites } from "../shards/fence";
import type { Budget } from "../shared/budget";
import { batch, type Db } from "../shared/context";
import { purgeBefore } from "../shared/retention";
import { WEBHOOK_LIMITS, type WebhookMessage } from "./rules";

/**
 * What one dispatch may do, so it stays far inside an invocation's 1,000 subrequests: at most
 * ROUNDS rounds (two D1 calls each) and DISPATCH_MESSAGES messages (one sendBatch per 100);
 * what is left waits for the next write or the sweep. The sweep dispatches SWEEP_TENANTS
 * tenants a minute at most, and resends at most RESEND_ROWS deliveries, within the budget the cron gives it.
 */
const ROUNDS = 4;
export const DISPATCH_MESSAGES = 2_000;
const SWEEP_TENANTS = 25;
const RESEND_ROWS = 1_000;
/** Queue.sendBatch takes at most 100 messages. */
const SEND_BATCH = 100;
/** The resend's subrequests: one UPDATE, and its sends. */
const RESEND_COST = 1 + Math.ceil(RESEND_ROWS / SEND_BATCH);

export async function send(queue: Queue<WebhookMessage>, messages: WebhookMessage[]) {
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    await queue.sendBatch(messages.slice(i, i + SEND_BATCH).map((body) => ({ body, contentType: "json" as const })));
  }
}

/** Tenants this isolate found without endpoints, until when: most tenants have none, and most writes need no dispatch. */
const withoutEndpoints = new Map<string, number>();
const QUIET_MS = 10_000;

/** After a change: dispatch, unless the tenant had no endpoints a moment ago (the sweep covers another isolate's new endpoint). */
export async function dispatchAfterChange(db: Db, queue: Queue<WebhookMessage>, tenantId: string) {
  if ((withoutEndpoints.get(tenantId) ?? 0) > Date.now()) return 0;
  withoutEndpoints.delete(tenantId);
  return dispatchTenant(db, queue, tenantId);
}

/** This isolate made the tenant an endpoint. */
export const endpointsChanged = (tenantId: string) => withoutEndpoints.delete(tenantId);

interface Lagging {
  id: string;
  enqueued_through: number;
  types: string | null;
  head: number;
}

/**
 * Move the tenant's new events into its unpaused endpoints' outboxes and send them. Two
 * dispatches at once never send one delivery twice: INSERT OR IGNORE ... RETURNING gives each
 * row to the one that inserted it.
 */
export async function dispatchTenant(
  db: Db,
  queue: Queue<WebhookMessage>,
  tenantId: string,
  now = Date.now(),
  maxMessages = DISPATCH_MESSAGES,
): Promise<number> {
  let sent = 0;
  for (let round = 0; round < ROUNDS && sent < maxMessages; round += 1) {
    const endpoints = await db.all<Lagging & { paused: number }>(sql`
      SELECT e.id, e.enqueued_through, e.types, e.paused, h.head FROM webhook_endpoints e
      JOIN (SELECT coalesce(max(cursor), 0) AS head FROM audit_log WHERE tenant_id = ${tenantId}) h
      WHERE e.tenant_id = ${tenantId}`);
    if (endpoints.length === 0) withoutEndpoints.set(tenantId, Date.now() + QUIET_MS);
    const lagging = endpoints.filter((e) => e.paused === 0 && e.enqueued_through < e.head);
    if (lagging.length === 0) return sent;
    // Each endpoint's share of what is left, counted in the tenant's own events: cursors are
    // shared by all tenants, so a span of cursors may hold few of this tenant's events.
    const share = Math.max(1, Math.floor((maxMessages - sent) / lagging.length));
    const statements = lagging.flatMap((e) => {
      const upTo = sql`coalesce((SELECT cursor FROM audit_log WHERE tenant_id = ${tenantId} AND cursor > ${e.enqueued_through}
                                 ORDER BY cursor LIMIT 1 OFFSET ${share - 1}), ${e.head})`;
      const actions = e.types === null ? null : actionsOf(JSON.parse(e.types) as EventType[]);
      return [
        sql`INSERT OR IGNORE INTO webhook_deliveries (tenant_id, endpoint_id, cursor, event_id, status, attempts, next_attempt_at, created_at)
            SELECT tenant_id, ${e.id}, cursor, id, 'pending', 0, ${now + WEBHOOK_LIMITS.leaseMs}, ${now} FROM audit_log
            WHERE tenant_id = ${tenantId} AND cursor > ${e.enqueued_through} AND cursor <= ${upTo}
              AND (${actions} IS NULL OR action IN (SELECT value FROM json_each(${actions})))
            RETURNING endpoint_id, cursor`,
        sql`UPDATE webhook_endpoints SET enqueued_through = max(enqueued_through, ${upTo}) WHERE tenant_id = ${tenantId} AND id = ${e.id}`,
      ];
    });
    const results = await batch(db, statements);
    const messages = results
      .filter((_, i) => i % 2 === 0)
      .flatMap((r) =>
        (r.results as { endpoint_id: string; cursor: number }[]).map((d) => ({
          tenant: tenantId,
          endpoint: d.endpoint_id,
          cursor: d.cursor,
        })),
      );
    await send(queue, messages);
    sent += messages.length;
  }
  return sent;
}

/** The tenants whose endpoints have events not yet in their outbox. */
const laggingTenants = (limit: number) => sql`
  SELECT DISTINCT e.tenant_id FROM webhook_endpoints e
  WHERE e.paused = 0 AND e.enqueued_through < (SELECT max(cursor) FROM audit_log a WHERE a.tenant_id = e.tenant_id)
    AND ${takesWrites(sql`e.tenant_id`)}
  LIMIT ${limit}`;

/**
 * The sweep (a cron every minute, and after an endpoint is resumed): dispatch tenants whose
 * after-request dispatch did not run, and send again each pending delivery whose lease ran out,
 * its message lost or never sent. The new lease is taken before the send. With a budget (the
 * cron's), it takes only the work the budget covers; the rest waits, untouched, for the next run.
 */
export async function sweepWebhooks(
  db: Db,
  queue: Queue<WebhookMessage>,
  now = Date.now(),
  only?: { tenantId: string; endpointId: string },
  budget?: Budget,
) {
  const left = () => budget?.left ?? Number.POSITIVE_INFINITY;
  let dispatched = 0;
  if (!only && left() > RESEND_COST + 1) {
    for (const t of await db.all<{ tenant_id: string }>(laggingTenants(SWEEP_TENANTS))) {
      // A dispatch's rounds (two D1 calls, and a last, partial send each), then as many messages as the rest covers,
      // the resend's share kept back.
      const messages = Math.min(DISPATCH_MESSAGES, (left() - RESEND_COST - ROUNDS * 3) * SEND_BATCH);
      if (messages < SEND_BATCH) break;
      dispatched += await dispatchTenant(db, queue, t.tenant_id, now, messages);
    }
  }
  const rows = Math.min(RESEND_ROWS, (left() - 1) * SEND_BATCH);
  if (rows <= 0) return { dispatched, resent: 0 };
  const due = await db.all<{ tenant_id: string; endpoint_id: string; cursor: number }>(sql`
    UPDATE webhook_deliveries SET next_attempt_at = ${now + WEBHOOK_LIMITS.leaseMs}
    WHERE rowid IN (
      SELECT d.rowid FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= ${only ? Number.MAX_SAFE_INTEGER : now} AND e.paused = 0
        AND ${takesWrites(sql`d.tenant_id`)}
        AND (${only?.tenantId ?? null} IS NULL OR (d.tenant_id = ${only?.tenantId ?? null} AND d.endpoint_id = ${only?.endpointId ?? null}))
      LIMIT ${rows})
    RETURNING tenant_id, endpoint_id, cursor`);
  await send(
    queue,
    due.map((d) => ({ tenant: d.tenant_id, endpoint: d.endpoint_id, cursor: d.cursor })),
  );
  return { dispatched, resent: due.length };
}

/** Delivery records are kept this long after their last attempt was due (the daily cron). */
export const DELIVERY_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** Forget settled deliveries (delivered or dead) past their retention, in slices; pending ones stay. How many went. */
export const purgeDeliveries = (db: Db, now = Date.now(), budget?: Budget) =>
  purgeBefore(db, "webhook_deliveries", "next_attempt_at", now - DELIVERY_RETENTION_MS, sql`status IN ('delivered', 'dead')`, budget);
