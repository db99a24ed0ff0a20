// An event as readers see it, built by SQL from its audit_log row. Each event is shaped once,
// in the batch that records it (audit_log.body), so a page of the feed is its stored texts
// joined: no JSON parsed or built per event on the read. shapedEvent (./index.ts) is the same
// shape built in the Worker (webhooks use it); test/events.test.ts checks that the two agree.
import { type SQL, sql } from "drizzle-orm";
import { TYPES } from "./types";

// Stored actions and event types are this module's own constants, never input.
const typeOf = (action: string) =>
  `CASE ${action} ${Object.entries(TYPES)
    .map(([stored, type]) => `WHEN '${stored}' THEN '${type}'`)
    .join(" ")} ELSE ${action} END`;

/**
 * The event of row `r` (an alias with audit_log's columns) after its id and cursor, as JSON
 * text: `"type":...,"occurred_at":...}`. The id and the cursor are put in front on the read
 * (eventJsonSql): a move gives events new cursors, and their bodies stay as they are.
 */
export function eventBodySql(r: string): SQL {
  const detail = `${r}.detail`;
  // A bound number reaches SQL as a real until the column's affinity makes it an integer: before the INSERT, it is not yet.
  const at = `CAST(${r}.at AS INTEGER)`;
  return sql.raw(`'"type":' || json_quote(${typeOf(`${r}.action`)})
    || ',"occurred_at":"' || strftime('%Y-%m-%dT%H:%M:%S', ${at} / 1000, 'unixepoch') || '.' || substr('00' || (${at} % 1000), -3) || 'Z"'
    || ',"actor":' || json_quote(${r}.actor) || ',"source":' || json_quote(${r}.source)
    || ',"group_id":' || CASE WHEN ${r}.target_type IN ('group', 'hierarchy') THEN json_quote(${r}.target_id) ELSE 'null' END
    || coalesce(',"user_ids":' || CASE
         WHEN json_type(${detail}, '$.user_ids') = 'array' THEN ${detail} -> '$.user_ids'
         WHEN json_type(${detail}, '$.user_id') = 'text' THEN json_array(${detail} ->> '$.user_id')
         WHEN ${r}.target_type = 'user' THEN json_array(${r}.target_id) END, '')
    || coalesce(',"before":' || (${detail} -> '$.before'), '')
    || coalesce(',"after":' || (${detail} -> '$.after'), '')
    || ',"detail":' || json_remove(${detail}, '$.user_ids', '$.user_id', '$.before', '$.after') || '}'`);
}

/** The whole event of row `r` as JSON text; a row recorded before bodies were stored is shaped here. */
export const eventJsonSql = (r: string) =>
  sql`'{"id":' || json_quote(${sql.raw(r)}.id) || ',"cursor":"' || ${sql.raw(r)}.cursor || '",' || coalesce(${sql.raw(r)}.body, ${eventBodySql(r)})`;

/** The columns of an event row, as the SELECT given to insertEvents names them. */
const COLUMNS = "tenant_id, id, at, actor, source, action, target_type, target_id, seq, detail";

/**
 * INSERT the events a SELECT gives (its columns named as audit_log's: tenant_id, id, at,
 * actor, source, action, target_type, target_id, seq, detail), each with its body, in `order`
 * (an expression over the SELECT's alias `e`): cursors follow it.
 */
export function insertEvents(rows: SQL, order?: SQL): SQL {
  const cols = sql.raw(COLUMNS);
  const from = sql.raw(
    COLUMNS.split(", ")
      .map((c) => `e.${c}`)
      .join(", "),
  );
  return sql`INSERT INTO audit_log (${cols}, body)
             SELECT ${from}, ${eventBodySql("e")} FROM (${rows}) e ${order ? sql`ORDER BY ${order}` : sql``}`;
}
