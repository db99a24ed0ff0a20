// Webhooks: a tenant's endpoints, which event types each takes, and what was delivered.
// Entry points for the routes; the outbox (outbox.ts) and the consumer (delivery.ts) do the sending.
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { webhookDeliveries, webhookEndpoints } from "../../db/schema";
import type { EventType } from "../events";
import { eventStatement } from "../events/writes";
import { batch, type Scope } from "../shared/context";
import { CoreError, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { rowOf } from "../shared/rows";
import { dispatchTenant, endpointsChanged, send, sweepWebhooks } from "./outbox";
import { checkWebhookUrl, WEBHOOK_LIMITS } from "./rules";
import { newSigningSecret } from "./signing";

export { deliver } from "./delivery";
export { DELIVERY_RETENTION_MS, dispatchAfterChange, dispatchTenant, purgeDeliveries, sweepWebhooks } from "./outbox";
export { checkWebhookUrl, retryDelaySeconds, WEBHOOK_LIMITS, WEBHOOK_SWEEP_CRON, type WebhookMessage } from "./rules";

export type WebhookEndpoint = Omit<typeof webhookEndpoints.$inferSelect, "secret" | "previousSecret">;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;

export interface WebhookInput {
  url: string;
  types?: EventType[] | null;
  description?: string;
}

const allowLocal = (scope: Scope) => scope.env.WEBHOOKS_ALLOW_LOCAL_HTTP === "true";
const endpointKey = (scope: Scope, id: string) => and(eq(webhookEndpoints.tenantId, scope.tenantId), eq(webhookEndpoints.id, id));
const withoutSecret = ({ secret: _secret, previousSecret: _previous, ...e }: typeof webhookEndpoints.$inferSelect): WebhookEndpoint => e;
/** What the change stream records of an endpoint: never its secret. */
const recorded = (e: Pick<WebhookEndpoint, "url" | "types" | "description" | "paused">) => ({
  url: e.url,
  types: e.types === null ? null : JSON.parse(e.types),
  description: e.description,
  paused: e.paused === 1,
});

/** A new endpoint takes the events from now on; its secret is in this answer only. */
export async function createWebhook(scope: Scope, input: WebhookInput): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const url = checkWebhookUrl(input.url, allowLocal(scope));
  const now = Date.now();
  const secret = newSigningSecret();
  const id = newId();
  const types = input.types ? JSON.stringify([...new Set(input.types)]) : null;
  const description = input.description ?? "";
  const room = sql`(SELECT count(*) FROM webhook_endpoints WHERE tenant_id = ${scope.tenantId}) < ${WEBHOOK_LIMITS.endpointsPerTenant}`;
  // The event first, so the endpoint starts after it: its own creation is not sent to it.
  const [, inserted] = await batch(scope.db, [
    eventStatement(
      scope,
      "webhook.create",
      { type: "webhook", id },
      { after: recorded({ url, types, description, paused: 0 }) },
      now,
      room,
    ),
    sql`INSERT INTO webhook_endpoints (tenant_id, id, url, description, types, secret, paused, enqueued_through, created_by, created_at, updated_at)
        SELECT ${scope.tenantId}, ${id}, ${url}, ${description}, ${types}, ${secret}, 0,
               coalesce((SELECT max(cursor) FROM audit_log WHERE tenant_id = ${scope.tenantId}), 0), ${scope.actor}, ${now}, ${now}
        WHERE ${room}
        RETURNING *`,
  ]);
  const raw = inserted!.results[0] as Record<string, unknown> | undefined;
  endpointsChanged(scope.tenantId);
  if (!raw) {
    throw new CoreError(
      "limit_exceeded",
      `a tenant may have at most ${WEBHOOK_LIMITS.endpointsPerTenant} webhook endpoints; delete one first`,
    );
  }
  return { endpoint: withoutSecret(rowOf(webhookEndpoints, raw)), secret };
}

export async function listWebhooks(scope: Scope): Promise<WebhookEndpoint[]> {
  const rows = await scope.db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.tenantId, scope.tenantId))
    .orderBy(webhookEndpoints.createdAt, webhookEndpoints.id)
    .all();
  return rows.map(withoutSecret);
}

export async function getWebhook(scope: Scope, id: string): Promise<WebhookEndpoint> {
  const row = await scope.db.select().from(webhookEndpoints).where(endpointKey(scope, id)).get();
  if (!row) throw notFound("webhook", id);
  return withoutSecret(row);
}

export interface WebhookPatch {
  url?: string;
  types?: EventType[] | null;
  description?: string;
  paused?: boolean;
}

/** Pausing holds deliveries (events keep going to the outbox only once resumed); resuming sends what waited, back to where it paused while the events are kept. */
export async function updateWebhook(scope: Scope, id: string, patch: WebhookPatch): Promise<WebhookEndpoint> {
  const before = await getWebhook(scope, id);
  const set: Partial<typeof webhookEndpoints.$inferInsert> = { updatedAt: Date.now() };
  if (patch.url !== undefined) set.url = checkWebhookUrl(patch.url, allowLocal(scope));
  if (patch.types !== undefined) set.types = patch.types === null ? null : JSON.stringify([...new Set(patch.types)]);
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.paused !== undefined) set.paused = patch.paused ? 1 : 0;
  const after = { ...before, ...set } as WebhookEndpoint;
  // A change that changes nothing records nothing.
  if (JSON.stringify(recorded(after)) === JSON.stringify(recorded(before))) return before;
  const [updated] = await batch(scope.db, [
    scope.db.update(webhookEndpoints).set(set).where(endpointKey(scope, id)).returning().getSQL(),
    eventStatement(
      scope,
      "webhook.update",
      { type: "webhook", id },
      { before: recorded(before), after: recorded(after) },
      set.updatedAt,
      sql`changes() = 1`,
    ),
  ]);
  const raw = updated!.results[0] as Record<string, unknown> | undefined;
  if (!raw) throw notFound("webhook", id);
  if (before.paused === 1 && patch.paused === false) await resume(scope, id);
  return withoutSecret(rowOf(webhookEndpoints, raw));
}

/** What was held before the pause is sent first, then the events since (never both for one delivery: the new ones are not pending yet). */
async function resume(scope: Scope, id: string) {
  await sweepWebhooks(scope.db, scope.env.WEBHOOKS, Date.now(), { tenantId: scope.tenantId, endpointId: id });
  await dispatchTenant(scope.db, scope.env.WEBHOOKS, scope.tenantId);
}

/** The longest a rotated-out secret keeps signing: a week. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

/**
 * A new signing secret, shown in this answer only. For graceSeconds the old one signs too
 * (webhook-signature carries both), so receivers can switch without missing a delivery.
 */
export async function rotateWebhookSecret(
  scope: Scope,
  id: string,
  graceSeconds: number,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const now = Date.now();
  const secret = newSigningSecret();
  const until = now + graceSeconds * 1000;
  const [rotated] = await batch(scope.db, [
    scope.db
      .update(webhookEndpoints)
      .set({
        previousSecret: graceSeconds > 0 ? sql`${webhookEndpoints.secret}` : null,
        previousSecretUntil: graceSeconds > 0 ? until : null,
        secret,
        updatedAt: now,
      })
      .where(endpointKey(scope, id))
      .returning()
      .getSQL(),
    eventStatement(
      scope,
      "webhook.update",
      { type: "webhook", id },
      { secret_rotated: true, previous_secret_valid_until: graceSeconds > 0 ? new Date(until).toISOString() : null },
      now,
      sql`changes() = 1`,
    ),
  ]);
  const raw = rotated!.results[0] as Record<string, unknown> | undefined;
  if (!raw) throw notFound("webhook", id);
  return { endpoint: withoutSecret(rowOf(webhookEndpoints, raw)), secret };
}

/** The endpoint and its delivery records go; messages already queued find nothing and are dropped. */
export async function deleteWebhook(scope: Scope, id: string): Promise<WebhookEndpoint> {
  const before = await getWebhook(scope, id);
  const [deleted] = await batch(scope.db, [
    scope.db.delete(webhookEndpoints).where(endpointKey(scope, id)).returning().getSQL(),
    eventStatement(scope, "webhook.delete", { type: "webhook", id }, { before: recorded(before) }, Date.now(), sql`changes() = 1`),
    scope.db
      .delete(webhookDeliveries)
      .where(and(eq(webhookDeliveries.tenantId, scope.tenantId), eq(webhookDeliveries.endpointId, id)))
      .getSQL(),
  ]);
  if (!deleted!.results.length) throw notFound("webhook", id);
  return before;
}

export interface DeliveryQuery {
  status?: "pending" | "delivered" | "dead";
  /** Only deliveries of events before this cursor (the page goes newest first). */
  before?: number;
  limit: number;
}

export async function listDeliveries(scope: Scope, id: string, q: DeliveryQuery) {
  await getWebhook(scope, id);
  const rows = await scope.db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.tenantId, scope.tenantId),
        eq(webhookDeliveries.endpointId, id),
        q.status ? eq(webhookDeliveries.status, q.status) : undefined,
        q.before !== undefined ? lt(webhookDeliveries.cursor, q.before) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.cursor))
    .limit(q.limit + 1)
    .all();
  const page = rows.slice(0, q.limit);
  return { deliveries: page, nextBefore: rows.length > q.limit ? page.at(-1)!.cursor : null };
}

/** Send one delivery again, whatever became of it: attempts start afresh, with the same webhook-id. */
export async function redeliver(scope: Scope, id: string, eventId: string): Promise<WebhookDelivery> {
  const now = Date.now();
  const raw = await scope.db
    .update(webhookDeliveries)
    .set({ status: "pending", attempts: 0, nextAttemptAt: now + WEBHOOK_LIMITS.leaseMs, lastError: null, deliveredAt: null })
    .where(
      and(eq(webhookDeliveries.tenantId, scope.tenantId), eq(webhookDeliveries.endpointId, id), eq(webhookDeliveries.eventId, eventId)),
    )
    .returning()
    .get();
  if (!raw) throw notFound("delivery", `${id}/${eventId}`);
  await send(scope.env.WEBHOOKS, [{ tenant: scope.tenantId, endpoint: id, cursor: raw.cursor }]);
  return raw;
}
