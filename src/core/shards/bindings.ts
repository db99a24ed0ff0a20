// The shards (D1 bindings named in SHARDS, wrangler.toml) and the control database (CONTROL)
// that says which tenant lives on which. Only core/shards reaches these bindings.
import { drizzle } from "drizzle-orm/d1";
import * as controlSchema from "../../db/control-schema";
import type { Env } from "../../env";
import { CoreError } from "../shared/errors";

/** How long an isolate trusts what it read of the directory: a move waits this long before writes resume (core/shards/move.ts). */
export const DEFAULT_DIRECTORY_TTL_MS = 5_000;

export const directoryTtl = (env: Env) => Number(env.SHARD_DIRECTORY_TTL_MS) || DEFAULT_DIRECTORY_TTL_MS;

/** The shards' binding names, in SHARDS's order (the first is where every tenant lived before there were shards). */
export function shardNames(env: Env): string[] {
  const names = (env.SHARDS ?? "DB").split(/[\s,]+/).filter(Boolean);
  return names.length > 0 ? names : ["DB"];
}

/**
 * A shard's binding; a name SHARDS does not list, or whose binding is missing, is a deployment error: 503 for the
 * tenants on it (npm run deploy:check refuses such a configuration).
 */
export function shardBinding(env: Env, name: string): D1Database {
  const d1 = shardNames(env).includes(name) ? (env as unknown as Record<string, D1Database | undefined>)[name] : undefined;
  if (!d1)
    throw new CoreError("unavailable", `shard ${name} is not a D1 binding of this Worker (SHARDS and [[d1_databases]] in wrangler.toml)`);
  return d1;
}

export const controlDatabase = (env: Env) => drizzle(env.CONTROL, { schema: controlSchema });
export type ControlDb = ReturnType<typeof controlDatabase>;

/** Directory reads go to the control database's primary: a replica could still show a tenant's old shard. */
export const controlPrimary = (env: Env) => env.CONTROL.withSession("first-primary");

/** A shard's size in bytes, from D1's own meta of a query. */
export async function shardSize(env: Env, name: string): Promise<number> {
  const r = await shardBinding(env, name).prepare("SELECT 1").run();
  return Number((r.meta as { size_after?: number }).size_after ?? 0);
}

/** Every shard, for maintenance that spans tenants (the daily purges, the webhook sweep). */
export const everyShard = (env: Env) => shardNames(env).map((name) => ({ name, d1: shardBinding(env, name) }));

/** The shard the directory names for a tenant; null: not placed yet. */
export async function placedShard(env: Env, tenantId: string): Promise<string | null> {
  const row = await controlPrimary(env)
    .prepare("SELECT shard FROM tenant_shards WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ shard: string }>();
  return row?.shard ?? null;
}
