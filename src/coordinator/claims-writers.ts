// Which claims writer (claims-writer.ts) owns a user's claim: one of CLAIMS_WRITER_SHARDS
// per tenant, by a hash of the user id, so a tenant's claims are written in parallel and
// each user's key by one writer only.

import { groupBy } from "../core/shared/group-by";
import { tenantScoped } from "../core/shared/ids";
import type { Env } from "../env";

export const CLAIMS_WRITER_SHARDS = 8;

function shardOf(userId: string) {
  // FNV-1a: stable across isolates and deploys, which the one-writer-per-key rule needs.
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % CLAIMS_WRITER_SHARDS;
}

function writer(env: Env, tenantId: string, shard: number) {
  const ns = env.CLAIMS_WRITER;
  return ns.get(ns.idFromName(tenantScoped(tenantId, String(shard))));
}

/** Have these users' claims written from D1 by their writers, no sooner than delayMs from now. */
export async function writeClaimsSoon(env: Env, tenantId: string, userIds: string[], delayMs = 0) {
  const byShard = groupBy(new Set(userIds), shardOf);
  const accepted = await Promise.all([...byShard].map(([s, users]) => writer(env, tenantId, s).enqueue(tenantId, users, delayMs)));
  if (accepted.includes(false)) throw new Error(`a claims writer of tenant '${tenantId}' belongs to another tenant`);
}

/** How many of the tenant's users wait for their claim to be written. */
export async function pendingClaimWrites(env: Env, tenantId: string): Promise<number> {
  const counts = await Promise.all(Array.from({ length: CLAIMS_WRITER_SHARDS }, (_, s) => writer(env, tenantId, s).pending()));
  return counts.reduce((a, b) => a + b, 0);
}
