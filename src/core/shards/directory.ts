// The one way to a tenant's D1 database: tenantDatabase(env, tenantId). No query can run on a
// shard without naming the tenant; maintenance that spans tenants (the crons) goes through
// everyShard (bindings.ts). What an isolate read of the directory it trusts for directoryTtl.
import type { Env } from "../../env";
import { CoreError } from "../shared/errors";
import { directoryTtl, placedShard, shardBinding, shardNames } from "./bindings";
import { placeTenant } from "./placement";

const CACHE_MAX = 10_000;

const cache = new Map<string, { shard: string; readAt: number }>();

/** Forget what this isolate read of a tenant's placement (a move changed it, or a write found the tenant fenced). */
export function forgetPlacement(tenantId: string) {
  cache.delete(tenantId);
}

/** The shard a tenant lives on, placing a tenant seen for the first time. */
export async function tenantShard(env: Env, tenantId: string): Promise<string> {
  const now = Date.now();
  const known = cache.get(tenantId);
  if (known && now - known.readAt < directoryTtl(env)) return known.shard;
  const shard = (await placedShard(env, tenantId)) ?? (await placeTenant(env, tenantId));
  if (!shardNames(env).includes(shard)) {
    throw new CoreError("unavailable", `this tenant's database (${shard}) is not configured on this deployment`);
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(tenantId, { shard, readAt: now });
  return shard;
}

/** The tenant's D1 database: the only way any code path reaches a shard for a tenant's rows. */
export async function tenantDatabase(env: Env, tenantId: string): Promise<{ shard: string; d1: D1Database }> {
  const shard = await tenantShard(env, tenantId);
  return { shard, d1: shardBinding(env, shard) };
}
