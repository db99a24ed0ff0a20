// An API key names no tenant: the control database maps its hash to the tenant, whose shard
// keeps the key itself. Recorded before the key is written, so a key that exists can be found.
import type { Env } from "../../env";
import { controlPrimary, shardBinding, shardNames } from "./bindings";

export async function registerKeyTenant(env: Env, secretHash: string, tenantId: string) {
  await controlPrimary(env)
    .prepare("INSERT INTO api_key_tenants (secret_hash, tenant_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
    .bind(secretHash, tenantId)
    .run();
}

/** The tenant of a key's hash; a key made before shards is found on the first shard, and recorded. */
export async function tenantOfKey(env: Env, secretHash: string): Promise<string | null> {
  const row = await controlPrimary(env)
    .prepare("SELECT tenant_id FROM api_key_tenants WHERE secret_hash = ?")
    .bind(secretHash)
    .first<{ tenant_id: string }>();
  if (row) return row.tenant_id;
  const before = await shardBinding(env, shardNames(env)[0]!)
    .prepare("SELECT tenant_id FROM api_keys WHERE secret_hash = ?")
    .bind(secretHash)
    .first<{ tenant_id: string }>();
  if (before) await registerKeyTenant(env, secretHash, before.tenant_id);
  return before?.tenant_id ?? null;
}
