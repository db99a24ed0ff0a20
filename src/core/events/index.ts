// The change stream, read: every change of a tenant in the order it landed, resumable by
// cursor. The store is the audit trail itself (core/events/writes.ts writes it).
import { sql } from "drizzle-orm";
import type { Db, Scope } from "../shared/context";
import { CoreError } from "../shared/errors";

/** Stored action → the event type readers see. */
const TYPES = {
  "group.create": "group.created",
  "group.update": "group.updated",
  "group.delete": "group.deleted",
  "members.add": "group.members.added",
  "members.remove": "group.members.removed",
  "members.role": "group.members.role_changed",
  "members.expiry": "group.members.expiry_changed",
  "members.replace": "group.members.replaced",
  "hierarchy.link": "group.children.linked",
  "hierarchy.unlink": "group.children.unlinked",
  "roles.assign": "group.roles.assigned",
  "roles.remove": "group.roles.removed",
  "rule.set": "group.rule.set",
  "rule.delete": "group.rule.deleted",
  "tracking.group": "group.traits.changed",
  "user.create": "user.created",
  "user.update": "user.updated",
  "user.delete": "user.deleted",
  "config.update": "config.updated",
  "key.create": "api_key.created",
  "key.revoke": "api_key.revoked",
  "webhook.create": "webhook.created",
  "webhook.update": "webhook.updated",
  "webhook.delete": "webhook.deleted",
} as const satisfies Record<string, string>;

export type EventType = (typeof TYPES)[keyof typeof TYPES];
export const EVENT_TYPES = Object.values(TYPES) as [EventType, ...EventType[]];
const ACTION_OF = new Map(Object.entries(TYPES).map(([action, type]) => [type as string, action]));

/** The stored actions of these types, as the JSON array SQL's json_each reads. */
export const actionsOf = (types: readonly EventType[]) => JSON.stringify(types.map((t) => ACTION_OF.get(t)));

export const EVENT_LIMITS = { page: 1_000, defaultPage: 100 } as const;
/** A filtered page looks at this many events at most, so a rare filter never scans a tenant's whole history in one call. */
export const EVENTS_SCANNED = 10_000;

export interface ChangeEvent {
  id: string;
  cursor: string;
  type: EventType;
  occurred_at: string;
  actor: string | null;
  source: string | null;
  group_id: string | null;
  user_ids?: string[];
  before?: unknown;
  after?: unknown;
  detail: Record<string, unknown>;
}

export interface EventQuery {
  /** Only events after this cursor; none: from the oldest kept. */
  after?: number;
  limit: number;
  types?: EventType[];
  groupId?: string;
  userId?: string;
  /** The audit trail's filters: who made the change, and when (epoch ms, since inclusive, until exclusive). */
  actor?: string;
  since?: number;
  until?: number;
}

export interface EventPage {
  result: ChangeEvent[];
  /** Where to resume: the last event returned, or the last one looked at. Always set, so a poller keeps its place. */
  next_cursor: string;
  /** More events after next_cursor are already there. */
  has_more: boolean;
}

export interface EventRow {
  cursor: number;
  id: string;
  at: number;
  actor: string | null;
  source: string | null;
  action: keyof typeof TYPES;
  target_type: string;
  target_id: string;
  detail: string;
}

export function shapedEvent(r: EventRow): ChangeEvent {
  const { user_ids, user_id, before, after, ...detail } = JSON.parse(r.detail) as Record<string, unknown>;
  const users = Array.isArray(user_ids)
    ? (user_ids as string[])
    : typeof user_id === "string"
      ? [user_id]
      : r.target_type === "user"
        ? [r.target_id]
        : undefined;
  return {
    id: r.id,
    cursor: String(r.cursor),
    type: TYPES[r.action],
    occurred_at: new Date(r.at).toISOString(),
    actor: r.actor,
    source: r.source,
    group_id: r.target_type === "group" || r.target_type === "hierarchy" ? r.target_id : null,
    ...(users ? { user_ids: users } : {}),
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
    detail,
  };
}

/**
 * A cursor of the shard the tenant lived on, in this shard's numbering (core/shards/move.ts gave
 * moved events new cursors); null: not a cursor of a move (past the retention, say).
 */
async function cursorAfterMove(db: Db, tenantId: string, after: number): Promise<number | null> {
  const row = await db.get<{ c: number | null }>(
    sql`SELECT max(new_cursor) AS c FROM moved_event_cursors WHERE tenant_id = ${tenantId} AND old_cursor <= ${after}`,
  );
  return row?.c ?? null;
}

/** The next `size` events of the tenant after a cursor: an index range of audit_log_feed. */
export const eventWindow = (tenantId: string, after: number, size: number) =>
  sql`SELECT * FROM audit_log WHERE tenant_id = ${tenantId} AND cursor > ${after} ORDER BY cursor LIMIT ${size}`;

/** 410: some events after the reader's cursor are past the retention and gone. */
const forgotten = (after: number, horizon: number) =>
  new CoreError(
    "gone",
    `events after cursor ${after} up to ${horizon} are past this tenant's retention (eventRetentionDays) and no longer kept: ` +
      `read the current state again (groups, members, users), then follow the stream from after=${horizon}`,
    [{ field: "after", message: "older than the oldest event kept", resume_after: String(horizon) }],
  );

/** The unfiltered page: one index range of audit_log_feed, read once. */
async function nextEvents(scope: Scope, after: number, limit: number, resuming: boolean): Promise<EventPage> {
  const rows = await scope.db.all<EventRow & { horizon: number | null }>(sql`
    SELECT w.cursor, w.id, w.at, w.actor, w.source, w.action, w.target_type, w.target_id, w.detail,
           (SELECT purged_through FROM event_horizons WHERE tenant_id = ${scope.tenantId}) AS horizon
    FROM (SELECT 1) LEFT JOIN (${eventWindow(scope.tenantId, after, limit + 1)}) w ON true ORDER BY w.cursor`);
  const horizon = rows[0]?.horizon ?? null;
  if (resuming && horizon !== null && after < horizon) throw forgotten(after, horizon);
  const page = rows
    .filter((r) => r.cursor !== null)
    .slice(0, limit)
    .map(shapedEvent);
  return { result: page, next_cursor: page.at(-1)?.cursor ?? String(after), has_more: rows.length > limit };
}

export async function listEvents(scope: Scope, q: EventQuery): Promise<EventPage> {
  try {
    return await listFrom(scope, q);
  } catch (e) {
    // A cursor from before the tenant moved to another shard is behind the move's horizon: translated, it resumes.
    if (!(e instanceof CoreError && e.kind === "gone") || q.after === undefined) throw e;
    const moved = await cursorAfterMove(scope.db, scope.tenantId, q.after);
    if (moved === null) throw e;
    return listFrom(scope, { ...q, after: moved });
  }
}

async function listFrom(scope: Scope, q: EventQuery): Promise<EventPage> {
  const after = q.after ?? 0;
  // Unfiltered, the page is the window; a filter looks further, up to EVENTS_SCANNED.
  const filtered = q.types !== undefined || [q.groupId, q.userId, q.actor, q.since, q.until].some((f) => f !== undefined);
  if (!filtered) return nextEvents(scope, after, q.limit, q.after !== undefined);
  const size = EVENTS_SCANNED;
  const actions = actionsOf(q.types ?? EVENT_TYPES);
  // The window: the next events of the tenant by cursor (an index range), bounded; the filters apply within it.
  const rows = await scope.db.all<EventRow & { scanned_to: number | null; scanned: number; horizon: number | null }>(sql`
    WITH recent AS (${eventWindow(scope.tenantId, after, size)}),
    hits AS (
      SELECT * FROM recent w
      WHERE w.action IN (SELECT value FROM json_each(${actions}))
        AND (${q.groupId ?? null} IS NULL
             OR (w.target_type IN ('group', 'hierarchy') AND w.target_id = ${q.groupId ?? null})
             OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.child_ids') c WHERE c.value = ${q.groupId ?? null}))
        AND (${q.userId ?? null} IS NULL
             OR (w.target_type = 'user' AND w.target_id = ${q.userId ?? null})
             OR json_extract(w.detail, '$.user_id') = ${q.userId ?? null}
             OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.user_ids') u WHERE u.value = ${q.userId ?? null}))
        AND (${q.actor ?? null} IS NULL OR w.actor = ${q.actor ?? null})
        AND (${q.since ?? null} IS NULL OR w.at >= ${q.since ?? null})
        AND (${q.until ?? null} IS NULL OR w.at < ${q.until ?? null})
      ORDER BY w.cursor LIMIT ${q.limit + 1}
    )
    SELECT h.cursor, h.id, h.at, h.actor, h.source, h.action, h.target_type, h.target_id, h.detail,
           (SELECT max(cursor) FROM recent) AS scanned_to, (SELECT count(*) FROM recent) AS scanned,
           (SELECT purged_through FROM event_horizons WHERE tenant_id = ${scope.tenantId}) AS horizon
    FROM (SELECT 1) LEFT JOIN hits h ON true ORDER BY h.cursor`);
  const horizon = rows[0]?.horizon ?? null;
  if (q.after !== undefined && horizon !== null && q.after < horizon) throw forgotten(q.after, horizon);
  const found = rows.filter((r) => r.cursor !== null);
  const page = found.slice(0, q.limit).map(shapedEvent);
  const scannedTo = rows[0]?.scanned_to ?? null;
  const windowFull = (rows[0]?.scanned ?? 0) >= size;
  if (found.length > q.limit) return { result: page, next_cursor: page.at(-1)!.cursor, has_more: true };
  // Fewer hits than asked: everything in the window was looked at, so resume after it.
  return { result: page, next_cursor: String(scannedTo ?? after), has_more: windowFull };
}
