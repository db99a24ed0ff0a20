// The change stream, read: every change of a tenant in the order it landed, resumable by
// cursor. The store is the audit trail itself (core/events/writes.ts writes it).
import { type SQL, sql } from "drizzle-orm";
import { eventWeight, LIGHT_EVENT_WEIGHT } from "../../db/schema";
import type { Db, Scope } from "../shared/context";
import { CoreError } from "../shared/errors";
import { isoTime } from "../shared/time";

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

/**
 * pageBytes: a page also stops before this many bytes of events (counted as rowBytes does; its first event always),
 * so a page of 1,000-user events stays about a megabyte for the Worker, and one value under D1's 2 MB value limit.
 */
export const EVENT_LIMITS = { page: 1_000, defaultPage: 100, pageBytes: 1_500_000 } as const;
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
  return shaped(r, JSON.parse(r.detail) as Record<string, unknown>);
}

function shaped(r: Omit<EventRow, "detail">, stored: Record<string, unknown>): ChangeEvent {
  const { user_ids, user_id, before, after, ...detail } = stored;
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
    occurred_at: isoTime(r.at),
    actor: r.actor,
    source: r.source,
    group_id: r.target_type === "group" || r.target_type === "hierarchy" ? r.target_id : null,
    ...(users ? { user_ids: users } : {}),
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
    detail,
  };
}

/** One event as packedColumn packs it: detail already parsed, then EventRow's other columns in order. */
type PackedEvent = [Record<string, unknown>, number, string, number, string | null, string | null, EventRow["action"], string, string];

/** What a row's other columns take in the packed JSON at most: ids, numbers and punctuation. */
export const ROW_FIXED_BYTES = 400;
/** An upper bound of a row's bytes in the packed JSON: its weight (detail, actor escaped) and the fixed part. */
const rowBytes = sql`${eventWeight} + ${sql.raw(String(ROW_FIXED_BYTES))}`;
/**
 * One row as a JSON array after its opening bracket: detail, then the other columns. detail goes in as it is stored
 * (every writer stores JSON text: JSON.stringify, or json_object in SQL) instead of being parsed and written again;
 * json_array writes and escapes the other columns in one call, where a concatenation of each column quoted on its
 * own copied the growing row once per column (a third of the statement's time, measured in SQLite 3.51). cursor, at
 * and detail are NOT NULL, so no row comes out null and drops from the page.
 */
const packedRow = sql.raw("detail || ',' || substr(json_array(cursor, id, at, actor, source, action, target_type, target_id), 2)");
/** The rows of a page, in one JSON array (an empty one for none): each row's bracket is the separator's. */
const packedArray = (filter = sql``) => sql`coalesce('[[' || group_concat(${packedRow}, ',[') ${filter} || ']', '[]')`;

/** The CTE page_size over the CTE page_rows (audit_log rows in cursor order): their bytes (rowBytes) and how many. */
const pageSize = sql`page_size AS (SELECT coalesce(sum(${rowBytes}), 0) AS total, count(*) AS found FROM page_rows)`;

/**
 * The rows of page_rows as one JSON array of arrays, in cursor order: one value for D1 to hand the Worker instead of
 * ten per event (D1 writing and the Worker parsing 1,001 rows of columns was most of a page's cost). Rows that fit in
 * EVENT_LIMITS.pageBytes are packed in one pass; a heavier page stops at that many bytes (its first row always), so
 * the value stays under D1's 2 MB limit. Selected FROM page_size.
 */
const packedColumn = sql`CASE WHEN page_size.total <= ${EVENT_LIMITS.pageBytes} THEN (SELECT ${packedArray()} FROM page_rows)
    ELSE (SELECT ${packedArray(sql`FILTER (WHERE upto <= ${EVENT_LIMITS.pageBytes} OR upto = bytes)`)}
          FROM (SELECT *, sum(bytes) OVER (ORDER BY cursor) AS upto FROM (SELECT *, ${rowBytes} AS bytes FROM page_rows)))
  END AS packed`;

interface Packed {
  packed: string;
  found: number;
}

/** What a packed statement answers over no rows (it always answers one row; this only satisfies get's type). */
const NO_ROWS: Packed = { packed: "[]", found: 0 };

/** The events of a packed page, at most `limit`, and whether more rows were there than it returns. */
function unpacked(p: Packed, limit: number): { events: ChangeEvent[]; more: boolean } {
  // SQL promises no order inside group_concat: sorted by cursor here (already in order, so cheap).
  const rows = (JSON.parse(p.packed) as PackedEvent[]).sort((a, b) => a[1] - b[1]).slice(0, limit);
  const events = rows.map(([detail, cursor, id, at, actor, source, action, target_type, target_id]) =>
    shaped({ cursor, id, at, actor, source, action, target_type, target_id }, detail),
  );
  return { events, more: p.found > events.length };
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

/** The next `size` events of the tenant after a cursor (their `columns`, all by default): an index range of audit_log_feed. */
export const eventWindow = (tenantId: string, after: number, size: number | SQL, columns = sql.raw("*")) =>
  sql`SELECT ${columns} FROM audit_log WHERE tenant_id = ${tenantId} AND cursor > ${after} ORDER BY cursor LIMIT ${size}`;

/** 410: some events after the reader's cursor are past the retention and gone. */
const forgotten = (after: number, horizon: number) =>
  new CoreError(
    "gone",
    `events after cursor ${after} up to ${horizon} are past this tenant's retention (eventRetentionDays) and no longer kept: ` +
      `read the current state again (groups, members, users), then follow the stream from after=${horizon}`,
    [{ field: "after", message: "older than the oldest event kept", resume_after: String(horizon) }],
  );

/**
 * 1 when the next `size` events after the cursor hold no heavy one (audit_log_heavy's first after the cursor
 * lies past the window's last, or there is none): then (EVENT_LIMITS.page + 1) light rows stay under pageBytes,
 * and the page needs no byte count (a quarter of the packed statement's time). Two index searches: the partial
 * index, which holds only heavy events, and the window's cursors in audit_log_feed.
 */
const lightWindow = (tenantId: string, after: number, size: number) => sql`coalesce(
    (SELECT cursor FROM audit_log INDEXED BY audit_log_heavy
     WHERE tenant_id = ${tenantId} AND cursor > ${after} AND ${eventWeight} > ${sql.raw(String(LIGHT_EVENT_WEIGHT))}
     ORDER BY cursor LIMIT 1)
    > (SELECT max(cursor) FROM (${eventWindow(tenantId, after, size, sql.raw("cursor"))})),
    1)`;

/** The tenant's retention horizon, as a column. */
const horizonOf = (tenantId: string) => sql`(SELECT purged_through FROM event_horizons WHERE tenant_id = ${tenantId}) AS horizon`;

/**
 * The next `size` events of the tenant packed in one pass, when none of them is heavy (light = 1), and its
 * retention horizon. With a heavy one among them it reads no row (its window's LIMIT is 0, evaluated once before
 * the loop: a WHERE would still walk the rows) and packs nothing (light = 0): nextEventsQuery counts bytes.
 */
export const lightEventsQuery = (tenantId: string, after: number, size: number) => sql`
  WITH light AS MATERIALIZED (SELECT ${lightWindow(tenantId, after, size)} AS yes)
  SELECT ${packedArray()} AS packed, count(*) AS found, (SELECT yes FROM light) AS light, ${horizonOf(tenantId)}
  FROM (${eventWindow(tenantId, after, sql`(SELECT ${size} * yes FROM light)`)})`;

/** The next `size` events of the tenant packed, and its retention horizon. page_rows is not materialized: a second index range costs less than a copy. */
export const nextEventsQuery = (tenantId: string, after: number, size: number) => sql`
  WITH page_rows AS NOT MATERIALIZED (${eventWindow(tenantId, after, size)}), ${pageSize}
  SELECT ${packedColumn}, page_size.found, ${horizonOf(tenantId)}
  FROM page_size`;

/** The unfiltered page: an index range of audit_log_feed, packed in one pass unless a heavy event is in it. */
async function nextEvents(scope: Scope, after: number, limit: number, resuming: boolean): Promise<EventPage> {
  type Row = Packed & { horizon: number | null };
  const light = await scope.db.get<Row & { light: number }>(lightEventsQuery(scope.tenantId, after, limit + 1));
  const row = light?.light ? light : await scope.db.get<Row>(nextEventsQuery(scope.tenantId, after, limit + 1));
  const horizon = row?.horizon ?? null;
  if (resuming && horizon !== null && after < horizon) throw forgotten(after, horizon);
  const { events, more } = unpacked(row ?? NO_ROWS, limit);
  return { result: events, next_cursor: events.at(-1)?.cursor ?? String(after), has_more: more };
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
  const row = await scope.db.get<Packed & { scanned_to: number | null; scanned: number; horizon: number | null }>(sql`
    WITH recent AS (${eventWindow(scope.tenantId, after, size)}),
    page_rows AS (
      SELECT * FROM recent w
      WHERE w.action IN (SELECT value FROM json_each(${actions}))
        AND (${q.groupId ?? null} IS NULL
             OR (w.target_type IN ('group', 'hierarchy') AND w.target_id = ${q.groupId ?? null})
             OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.child_ids') c WHERE c.value = ${q.groupId ?? null}))
        AND (${q.userId ?? null} IS NULL
             OR (w.target_type = 'user' AND w.target_id = ${q.userId ?? null})
             -- An id (A-Z a-z 0-9 . _ : @ + -) is written in the detail's JSON as it is, quoted: a row without it is
             -- passed over without parsing its JSON (a quarter of the time for a window of 10,000, in SQLite 3.51).
             OR (instr(w.detail, '"' || ${q.userId ?? null} || '"') > 0
                 AND (json_extract(w.detail, '$.user_id') = ${q.userId ?? null}
                      OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.user_ids') u WHERE u.value = ${q.userId ?? null})
                      OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.already_members') u WHERE u.value = ${q.userId ?? null})
                      OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.removed') u WHERE u.value = ${q.userId ?? null})
                      OR EXISTS (SELECT 1 FROM json_each(w.detail, '$.still_members') u WHERE u.value ->> 'user_id' = ${q.userId ?? null}))))
        AND (${q.actor ?? null} IS NULL OR w.actor = ${q.actor ?? null})
        AND (${q.since ?? null} IS NULL OR w.at >= ${q.since ?? null})
        AND (${q.until ?? null} IS NULL OR w.at < ${q.until ?? null})
      ORDER BY w.cursor LIMIT ${q.limit + 1}
    ), ${pageSize}
    SELECT ${packedColumn}, page_size.found,
           (SELECT max(cursor) FROM recent) AS scanned_to, (SELECT count(*) FROM recent) AS scanned, ${horizonOf(scope.tenantId)}
    FROM page_size`);
  const horizon = row?.horizon ?? null;
  if (q.after !== undefined && horizon !== null && q.after < horizon) throw forgotten(q.after, horizon);
  const { events, more } = unpacked(row ?? NO_ROWS, q.limit);
  if (more) return { result: events, next_cursor: events.at(-1)!.cursor, has_more: true };
  // Every hit returned: everything in the window was looked at, so resume after it.
  return { result: events, next_cursor: String(row?.scanned_to ?? after), has_more: (row?.scanned ?? 0) >= size };
}
