// Idempotency keys (the IETF httpapi draft's Idempotency-Key header): the first answer to
// a tenant's key is kept 24 hours, and a retry of the same request gets that answer again
// without anything being applied. Kept in D1, not in a group's coordinator: a key may name
// any write of any surface (a group's creation has no coordinator yet), and the primary
// key (tenant, key) makes "the first request claims the key" one statement.

import { sql } from "drizzle-orm";
import type { Budget } from "../shared/budget";
import { batch, changesOf, type Db, type Scope } from "../shared/context";
import { CoreError } from "../shared/errors";
import { purgeBefore } from "../shared/retention";

export const IDEMPOTENCY_KEPT_MS = 24 * 3600 * 1000;
/** How long a retry waits for the first request with its key to answer before a 409. */
export const IN_PROGRESS_WAIT_MS = 5_000;
const POLL_MS = 50;

export interface KeptAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type KeyClaim = { first: true } | { first: false; answer: KeptAnswer };

interface Row {
  fingerprint: string;
  state: string;
  status: number | null;
  headers: string | null;
  body: string | null;
  created_at: number;
}

const read = (scope: Scope, key: string) =>
  scope.db.get<Row>(sql`SELECT fingerprint, state, status, headers, body, created_at FROM idempotency_keys
                        WHERE tenant_id = ${scope.tenantId} AND key = ${key}`);

/**
 * Claim the key for this request (fingerprint: what the request asks, so a different
 * request under the same key is told apart), or get the answer of the request that did.
 */
export async function claimKey(scope: Scope, key: string, fingerprint: string, now = Date.now()): Promise<KeyClaim> {
  const t = scope.tenantId;
  // A retry (the key held, within its 24 hours) costs this one read; a new key, one batch more.
  let row = await read(scope, key);
  if (!row || row.created_at < now - IDEMPOTENCY_KEPT_MS) {
    const results = await batch(scope.db, [
      // A key past its 24 hours is free again.
      sql`DELETE FROM idempotency_keys WHERE tenant_id = ${t} AND key = ${key} AND created_at < ${now - IDEMPOTENCY_KEPT_MS}`,
      sql`INSERT INTO idempotency_keys (tenant_id, key, fingerprint, created_at)
          VALUES (${t}, ${key}, ${fingerprint}, ${now}) ON CONFLICT DO NOTHING`,
    ]);
    if (changesOf(results, 1) > 0) return { first: true };
    row = await read(scope, key);
  }
  for (let waited = 0; ; waited += POLL_MS) {
    // Released meanwhile (the first request failed): this one may run.
    if (!row) return claimKey(scope, key, fingerprint, now);
    if (row.fingerprint !== fingerprint) {
      throw new CoreError("key_reused", "this Idempotency-Key was used for a different request (method, path or body) within 24 hours", [
        { field: "Idempotency-Key", message: "use a new key for a new request" },
      ]);
    }
    if (row.state === "done")
      return { first: false, answer: { status: row.status!, headers: JSON.parse(row.headers ?? "{}"), body: row.body ?? "" } };
    if (waited >= IN_PROGRESS_WAIT_MS) {
      throw new CoreError("conflict", "a request with this Idempotency-Key is still in progress; retry later with the same key", [
        { field: "Idempotency-Key", message: `claimed ${Math.round((Date.now() - row.created_at) / 1000)} s ago` },
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    row = await read(scope, key);
  }
}

/** The first request answered: keep its answer for the key's retries. */
export async function keepAnswer(scope: Scope, key: string, answer: KeptAnswer) {
  await scope.db.run(sql`UPDATE idempotency_keys SET state = 'done', status = ${answer.status},
                           headers = ${JSON.stringify(answer.headers)}, body = ${answer.body}
                         WHERE tenant_id = ${scope.tenantId} AND key = ${key}`);
}

/** The first request failed without an answer worth repeating (5xx, 429): a retry runs afresh. */
export async function releaseKey(scope: Scope, key: string) {
  await scope.db.run(sql`DELETE FROM idempotency_keys WHERE tenant_id = ${scope.tenantId} AND key = ${key} AND state = 'pending'`);
}

/** Forget keys past their 24 hours (the daily cron). */
export const purgeIdempotencyKeys = (db: Db, now = Date.now(), budget?: Budget) =>
  purgeBefore(db, "idempotency_keys", "created_at", now - IDEMPOTENCY_KEPT_MS, undefined, budget);
