// A moving tenant's write refused by its shard's triggers (migration 0013), as the error every
// surface answers: 503, nothing written, retry in a moment.
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
