// The statement that records a change in the change stream (the audit_log table), for the
// batch that makes the change: no event without its change, no change without its event.
import { is, SQL, sql } from "drizzle-orm";
import { newId } from "../shared/ids";

/** Who made a change, through what. */
export interface EventOrigin {
  tenantId: string;
  actor: string;
  /** The public surface (Scope.surface); else the mechanism (tracking, scim, ...). */
  surface?: string;
  source?: string;
}

export type TargetType = "group" | "hierarchy" | "user" | "key" | "config" | "webhook";

export interface EventTarget {
  type: TargetType;
  /** The id, or an SQL expression giving it (a row the same batch is about to make). */
  id: string | SQL;
  /** The group coordinator's sequence number, for changes it orders. */
  seq?: number | null;
}

/**
 * An INSERT of one event; detail is a value (stored as JSON) or an SQL expression giving
 * JSON text (to show what a row held before the batch changes it). onlyIf (an SQL condition): recorded only when it holds, e.g.
 * `changes() = 1` right after a conditional write in the same batch.
 */
export function eventStatement(o: EventOrigin, action: string, target: EventTarget, detail: unknown, at = Date.now(), onlyIf?: SQL) {
  return sql`INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, seq, detail)
             SELECT ${o.tenantId}, ${newId()}, ${at}, ${o.actor}, ${o.surface ?? o.source ?? null}, ${action}, ${target.type}, ${target.id},
                    ${target.seq ?? null}, ${is(detail, SQL) ? detail : JSON.stringify(detail)}
             WHERE ${onlyIf ?? sql`true`}`;
}
