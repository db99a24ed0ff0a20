// The claims' writes to KV: run by the coordinators' alarms after membership changes, and
// by the settings and user entry points.
import type { Env } from "../../env";
import { loadSettings } from "../config/reads";
import type { TenantSettings } from "../config/rules";
import { database } from "../shared/context";
import { buildClaims, claimKey, forgetClaimSettings, type StoredClaim, settingsKey } from "./reads";

/** Called after the tenant's settings change, so claims are rebuilt with the new ones. */
export async function claimSettingsChanged(env: Env, tenantId: string, settings: TenantSettings) {
  forgetClaimSettings(tenantId);
  await env.CLAIMS.put(settingsKey(tenantId), JSON.stringify(settings.claim));
}

/**
 * Rewrite the KV claims of these users from D1. A writer that computed before a later
 * mutation may land after that mutation's own refresh, so each pass re-reads D1 after
 * writing and rewrites what changed meanwhile.
 */
/** KV writes in waves: thousands of puts at once from several coordinators overwhelm the local runtime. */
const KV_WAVE = 50;
async function putClaims(env: Env, tenantId: string, claims: [string, StoredClaim][]) {
  for (let i = 0; i < claims.length; i += KV_WAVE) {
    await Promise.all(claims.slice(i, i + KV_WAVE).map(([u, c]) => env.CLAIMS.put(claimKey(tenantId, u), JSON.stringify(c))));
  }
}

export async function refreshClaims(env: Env, tenantId: string, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  const db = database(env.DB);
  const settings = (await loadSettings(db, tenantId)).claim;
  let written = await buildClaims(db, tenantId, userIds, settings);
  await putClaims(env, tenantId, [...written]);
  for (let pass = 0; pass < 2; pass++) {
    const again = await buildClaims(db, tenantId, userIds, settings);
    const stale = [...again].filter(([u, c]) => JSON.stringify(c) !== JSON.stringify(written.get(u)));
    if (stale.length === 0) return;
    await putClaims(env, tenantId, stale);
    written = again;
  }
}

export async function forgetClaim(env: Env, tenantId: string, userId: string) {
  await env.CLAIMS.delete(claimKey(tenantId, userId));
}
