// A moving tenant's write refused by its shard's triggers (migration 0013), as the error every
// surface answers: 503, nothing written, retry in a moment.
import { type SQL, sql } from "drizzle-orm";
import { CoreError } from "../shared/errors";
import { TENANT_MOVING } from "./tenant-tables";

/** Seconds a caller refused during a tenant's move should wait before retrying. */
export const MOVE_RETRY_AFTER_SECONDS = 1;

export function moveRefusal(e: unknown): CoreError | null {
  if (!(e instanceof Error) || !e.message.includes(TENANT_MOVING)) return null;
  return new CoreError("unavailable", "this tenant is moving to another database; nothing was written, retry shortly", [
    { field: "tenant", message: `retry after ${MOVE_RETRY_AFTER_SECONDS} s`, retry_after: MOVE_RETRY_AFTER_SECONDS },
  ]);
}

/**
 * SQL: this shard takes writes of the tenant in `tenantColumn`. From a move's fence to its cleaning the shard's triggers
 * refuse them (while the move copies, writes pass and are logged), so a job spanning a shard's tenants (the crons) leaves
 * such a tenant's rows to its next run rather than failing whole on them.
 */
export const takesWrites = (tenantColumn: SQL) =>
  sql`NOT EXISTS (SELECT 1 FROM tenant_moves_out fenced WHERE fenced.tenant_id = ${tenantColumn} AND fenced.state <> 'copying')`;
