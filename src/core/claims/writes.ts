// The claims' writes to KV. Only the claims writers (coordinator/claims-writer.ts) call
// writeClaims, so each user's key has one writer; see ARCHITECTURE.md "Claims".
import type { Env } from "../../env";
import { tenantDb } from "../shared/context";
import { claimKey, readClaimsState } from "./reads";

/** KV writes in waves: thousands of puts at once overwhelm the local runtime. */
const KV_WAVE = 50;

/**
 * Write these users' claims from D1, or delete the key of a user who no longer exists.
 * A write KV refuses (it allows one write per key per second) is reported, not thrown, so
 * the caller can retry that user later. One D1 round trip (readClaimsState), and one KV call per user.
 */
export async function writeClaims(env: Env, tenantId: string, userIds: string[]): Promise<{ refused: string[] }> {
  if (userIds.length === 0) return { refused: [] };
  const { claims } = await readClaimsState(await tenantDb(env, tenantId), tenantId, userIds);
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
