// The claims' writes to KV. Only the claims writers (coordinator/claims-writer.ts) call
// writeClaims, so each user's key has one writer; see ARCHITECTURE.md "Claims".
import { sql } from "drizzle-orm";
import type { Env } from "../../env";
import { loadSettings } from "../config/reads";
import { tenantDb } from "../shared/context";
import { buildClaims, claimKey } from "./reads";

/** KV writes in waves: thousands of puts at once overwhelm the local runtime. */
const KV_WAVE = 50;

/**
 * Write these users' claims from D1, or delete the key of a user who no longer exists.
 * A write KV refuses (it allows one write per key per second) is reported, not thrown, so
 * the caller can retry that user later. At most 2 D1 queries and one KV call per user.
 */
export async function writeClaims(env: Env, tenantId: string, userIds: string[]): Promise<{ refused: string[] }> {
  if (userIds.length === 0) return { refused: [] };
  const db = await tenantDb(env, tenantId);
  const [settings, existing] = await Promise.all([
    loadSettings(db, tenantId),
    db.all<{ id: string }>(
      sql`SELECT u.id FROM json_each(${JSON.stringify(userIds)}) j CROSS JOIN users u ON u.tenant_id = ${tenantId} AND u.id = j.value`,
    ),
  ]);
  const live = new Set(existing.map((r) => r.id));
  const claims = await buildClaims(db, tenantId, [...live], settings.claim);
  const refused: string[] = [];
  for (let i = 0; i < userIds.length; i += KV_WAVE) {
    await Promise.all(
      userIds.slice(i, i + KV_WAVE).map(async (u) => {
        const key = claimKey(tenantId, u);
        const claim = claims.get(u);
        try {
          await (claim ? env.CLAIMS.put(key, JSON.stringify(claim)) : env.CLAIMS.delete(key));
        } catch (e) {
          console.warn("claim write refused; retrying later", key, String(e));
          refused.push(u);
        }
      }),
    );
  }
  return { refused };
}
