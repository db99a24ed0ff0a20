// The queue consumer: each message is one event for one endpoint. It is posted, signed, and
// its delivery row settled; a failure is retried later by the queue with the same webhook-id,
// and after WEBHOOK_LIMITS.attempts the delivery is dead until someone redelivers it.
import { sql } from "drizzle-orm";
import { type EventRow, shapedEvent } from "../events";
import { takesWrites } from "../shards/fence";
import { batch, type Db } from "../shared/context";
import { retryDelaySeconds, WEBHOOK_LIMITS, type WebhookMessage } from "./rules";
import { signedHeaders } from "./signing";

interface Pending extends EventRow {
  tenant: string;
  endpoint: string;
  msg_cursor: number;
  url: string | null;
  secret: string | null;
  previous_secret: string | null;
  previous_secret_until: number | null;
  paused: number | null;
  status: string | null;
  attempts: number | null;
  event_cursor: number | null;
  /** 1: a move has fenced the tenant on this shard, which takes no write of its deliveries now. */
  fenced: number;
}

/** How long a message of a tenant a move has fenced waits: about a fence's length (two directory cache lifetimes). */
const FENCED_RETRY_SECONDS = 10;

/** What became of one message: settled (acknowledge it) or retry after a delay. */
export type Outcome = { settle: true } | { settle: false; delaySeconds: number };

/** The body a receiver gets: Standard Webhooks' {type, timestamp, data}; an event too large for it is a reference. */
export function webhookBody(row: EventRow): string {
  const event = shapedEvent(row);
  const whole = JSON.stringify({ type: event.type, timestamp: event.occurred_at, data: event });
  if (new TextEncoder().encode(whole).length <= WEBHOOK_LIMITS.inlineEventBytes) return whole;
  const { id, cursor, type, occurred_at, actor, source, group_id } = event;
  return JSON.stringify({
    type,
    timestamp: occurred_at,
    data: {
      id,
      cursor,
      type,
      occurred_at,
      actor,
      source,
      group_id,
      truncated: true,
      fetch: `/v1/events?after=${Number(cursor) - 1}&limit=1`,
    },
  });
}

async function attempt(
  url: string,
  secrets: string[],
  row: EventRow,
  now: number,
): Promise<{ status: number | null; error: string | null }> {
  const body = webhookBody(row);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "edge-groups-webhooks",
        ...(await signedHeaders(secrets, row.id, Math.floor(now / 1000), body)),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_LIMITS.timeoutMs),
    });
    await res.body?.cancel();
    return { status: res.status, error: res.ok ? null : `answered ${res.status}` };
  } catch (e) {
    return {
      status: null,
      error: e instanceof Error && e.name === "TimeoutError" ? `no answer within ${WEBHOOK_LIMITS.timeoutMs} ms` : String(e),
    };
  }
}

/** Deliver a batch of messages: one D1 read for all, the posts in parallel, one D1 batch to settle them. */
export async function deliver(db: Db, messages: readonly WebhookMessage[], baseDelaySeconds: number, now = Date.now()): Promise<Outcome[]> {
  const rows = await db.all<Pending>(sql`
    SELECT json_extract(m.value, '$.tenant') AS tenant, json_extract(m.value, '$.endpoint') AS endpoint, json_extract(m.value, '$.cursor') AS msg_cursor,
           e.url, e.secret, e.previous_secret, e.previous_secret_until, e.paused, d.status, d.attempts, a.cursor AS event_cursor, a.*,
           NOT ${takesWrites(sql`json_extract(m.value, '$.tenant')`)} AS fenced
    FROM json_each(${JSON.stringify(messages)}) m
    LEFT JOIN webhook_deliveries d ON d.tenant_id = json_extract(m.value, '$.tenant') AND d.endpoint_id = json_extract(m.value, '$.endpoint') AND d.cursor = json_extract(m.value, '$.cursor')
    LEFT JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
    LEFT JOIN audit_log a ON a.cursor = d.cursor AND a.tenant_id = d.tenant_id
    ORDER BY m.key`);
  const settle = await Promise.all(
    rows.map(async (r): Promise<{ outcome: Outcome; write?: ReturnType<typeof sql> }> => {
      const key = sql`tenant_id = ${r.tenant} AND endpoint_id = ${r.endpoint} AND cursor = ${r.msg_cursor}`;
      // Not sent while its outcome could not be written: the retry finds the tenant on the shard it moved to.
      if (r.fenced) return { outcome: { settle: false, delaySeconds: FENCED_RETRY_SECONDS } };
      // Gone (endpoint deleted), settled already (a duplicate message), or held while the endpoint is paused (resuming sends it again).
      if (r.status !== "pending" || r.url === null || r.secret === null || r.paused) return { outcome: { settle: true } };
      if (r.event_cursor === null) {
        return {
          outcome: { settle: true },
          write: sql`UPDATE webhook_deliveries SET status = 'dead', last_error = 'the event is past its retention', last_attempt_at = ${now} WHERE ${key}`,
        };
      }
      const tried = (r.attempts ?? 0) + 1;
      const rotating = r.previous_secret !== null && (r.previous_secret_until ?? 0) > now;
      const result = await attempt(r.url, rotating ? [r.secret, r.previous_secret!] : [r.secret], r, now);
      if (result.error === null) {
        return {
          outcome: { settle: true },
          write: sql`UPDATE webhook_deliveries SET status = 'delivered', attempts = ${tried}, last_attempt_at = ${now}, last_status = ${result.status},
                     last_error = NULL, delivered_at = ${now} WHERE ${key} AND status = 'pending'`,
        };
      }
      const dead = tried >= WEBHOOK_LIMITS.attempts;
      const delaySeconds = retryDelaySeconds(tried, baseDelaySeconds);
      return {
        outcome: dead ? { settle: true } : { settle: false, delaySeconds },
        write: sql`UPDATE webhook_deliveries SET status = ${dead ? "dead" : "pending"}, attempts = ${tried}, last_attempt_at = ${now},
                   last_status = ${result.status}, last_error = ${result.error.slice(0, 500)},
                   next_attempt_at = ${now + delaySeconds * 1000 + WEBHOOK_LIMITS.leaseMs} WHERE ${key} AND status = 'pending'`,
      };
    }),
  );
  const writes = settle.flatMap((s) => (s.write ? [s.write] : []));
  if (writes.length) await batch(db, writes);
  return settle.map((s) => s.outcome);
}
