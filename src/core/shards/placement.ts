// Where a new tenant goes: the shard with the least data, counting each tenant already placed
// there as PLACEMENT_TENANT_BYTES (so a burst of new tenants spreads before their data arrives).
// Up to SAMPLE_ALL shards are all measured; past that two at random ("the power of two choices").
import type { Env } from "../../env";
import { CoreError } from "../shared/errors";
import { controlPrimary, placedShard, shardBinding, shardNames, shardSize } from "./bindings";

const PLACEMENT_TENANT_BYTES = 64 * 1024;
const SAMPLE_ALL = 16;

function candidates(names: string[]): string[] {
  if (names.length <= SAMPLE_ALL) return names;
  const a = Math.floor(Math.random() * names.length);
  const b = (a + 1 + Math.floor(Math.random() * (names.length - 1))) % names.length;
  return [names[a]!, names[b]!];
}

/**
 * Rows a tenant has on the first shard although the directory has no row for it: a deployment
 * from before shards, where every tenant lived there.
 */
async function livedBeforeShards(env: Env, tenantId: string): Promise<boolean> {
  const first = shardBinding(env, shardNames(env)[0]!);
  const row = await first
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = ?1) OR EXISTS (SELECT 1 FROM users WHERE tenant_id = ?1)
        OR EXISTS (SELECT 1 FROM tenant_config WHERE tenant_id = ?1) OR EXISTS (SELECT 1 FROM api_keys WHERE tenant_id = ?1)
        OR EXISTS (SELECT 1 FROM audit_log WHERE tenant_id = ?1) AS lived`,
    )
    .bind(tenantId)
    .first<{ lived: number }>();
  return row?.lived === 1;
}

async function smallest(env: Env): Promise<string> {
  const names = candidates(shardNames(env));
  if (names.length === 1) return names[0]!;
  const control = controlPrimary(env);
  const [sizes, counts] = await Promise.all([
    Promise.all(names.map((n) => shardSize(env, n))),
    control
      .prepare(`SELECT shard, count(*) AS n FROM tenant_shards WHERE shard IN (SELECT value FROM json_each(?)) GROUP BY shard`)
      .bind(JSON.stringify(names))
      .all<{ shard: string; n: number }>(),
  ]);
  const placed = new Map(counts.results.map((r) => [r.shard, r.n]));
  const score = (i: number) => sizes[i]! + (placed.get(names[i]!) ?? 0) * PLACEMENT_TENANT_BYTES;
  let best = 0;
  for (let i = 1; i < names.length; i++) if (score(i) < score(best)) best = i;
  return names[best]!;
}

/** Record where a tenant lives; the first placement wins when two requests race. */
async function record(env: Env, tenantId: string, shard: string, by: string): Promise<string> {
  const control = controlPrimary(env);
  await control
    .prepare("INSERT INTO tenant_shards (tenant_id, shard, placed_at, placed_by) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
    .bind(tenantId, shard, Date.now(), by)
    .run();
  return (await placedShard(env, tenantId))!;
}

/** Place a tenant the directory does not know yet. */
export async function placeTenant(env: Env, tenantId: string): Promise<string> {
  const first = shardNames(env)[0]!;
  if (await livedBeforeShards(env, tenantId)) return record(env, tenantId, first, "before-shards");
  return record(env, tenantId, await smallest(env), "auto");
}

/** A vendor's explicit placement of a tenant that has no rows yet (409 once it is placed: move it instead). */
export async function placeTenantOn(
  env: Env,
  tenantId: string,
  shard: string,
  vendor: string,
): Promise<{ shard: string; created: boolean }> {
  if (!shardNames(env).includes(shard))
    throw new CoreError("invalid", `unknown shard ${shard}: this deployment has ${shardNames(env).join(", ")}`);
  const existing = await placedShard(env, tenantId);
  if (existing) {
    if (existing === shard) return { shard, created: false };
    throw new CoreError("conflict", `tenant ${tenantId} is already placed on ${existing}: move it instead`);
  }
  if (await livedBeforeShards(env, tenantId))
    throw new CoreError("conflict", `tenant ${tenantId} already has data on ${shardNames(env)[0]}: move it instead`);
  const placed = await record(env, tenantId, shard, vendor);
  if (placed !== shard) throw new CoreError("conflict", `tenant ${tenantId} was placed on ${placed} meanwhile: move it instead`);
  return { shard, created: true };
}
