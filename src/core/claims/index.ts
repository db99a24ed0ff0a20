// Each user's groups claim, as an ID token would carry it. D1 is the truth; KV holds
// the built claim under a key per tenant and user, and can be wiped at any time.
import { sql } from "drizzle-orm";
import type { Env } from "../../env";
import { loadSettings } from "../config/reads";
import { claimSettingsSchema, type TenantSettings } from "../config/rules";
import { type Db, database, type Scope } from "../shared/context";
import { notFound } from "../shared/errors";

type ClaimSettings = TenantSettings["claim"];

/** What KV holds for a user: the claim values, or only their count past the overage limit. */
export interface StoredClaim {
  /** The claim settings it was built with; a claim built with other settings is rebuilt. */
  stamp: string;
  values: string[] | null;
  count: number;
}

export const claimKey = (tenantId: string, userId: string) => `claims:${tenantId}:${userId}`;
const settingsKey = (tenantId: string) => `claim-settings:${tenantId}`;
const stampOf = (s: ClaimSettings) => JSON.stringify(s);

/** The claims of many users in one query: direct groups, plus inherited ones if configured. */
export const claimsQuery = (tenantId: string, userIds: string[], s: ClaimSettings) => sql`
    WITH RECURSIVE held(user_id, group_id) AS (
      SELECT m.user_id, m.group_id FROM json_each(${JSON.stringify(userIds)}) j
        CROSS JOIN memberships m ON m.tenant_id = ${tenantId} AND m.user_id = j.value
      UNION
      SELECT h.user_id, e.parent_id FROM held h
        CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = h.group_id
        WHERE ${s.includeInherited ? 1 : 0}
    )
    SELECT h.user_id, g.id, g.name FROM held h CROSS JOIN groups g ON g.tenant_id = ${tenantId} AND g.id = h.group_id
    ORDER BY h.user_id, g.name_key`;

export async function buildClaims(db: Db, tenantId: string, userIds: string[], s: ClaimSettings): Promise<Map<string, StoredClaim>> {
  const rows = await db.all<{ user_id: string; id: string; name: string }>(claimsQuery(tenantId, userIds, s));
  const byUser = new Map<string, string[]>(userIds.map((u) => [u, []]));
  for (const r of rows) byUser.get(r.user_id)?.push(s.values === "ids" ? r.id : r.name);
  const stamp = stampOf(s);
  const out = new Map<string, StoredClaim>();
  for (const [user, values] of byUser) {
    out.set(user, { stamp, values: values.length > s.overageLimit ? null : values, count: values.length });
  }
  return out;
}

// The tenant's claim settings, also held in this isolate for a few seconds: a claim read
// is then one KV read, not two. KV itself may take up to a minute to show a change in
// other locations, so this adds little to how long a settings change takes to reach claims.
const SETTINGS_TTL_MS = 5_000;
const settingsInIsolate = new Map<string, { settings: ClaimSettings; until: number }>();

async function claimSettings(env: Env, db: Db, tenantId: string): Promise<ClaimSettings> {
  const held = settingsInIsolate.get(tenantId);
  if (held && Date.now() < held.until) return held.settings;
  const cached = await env.CLAIMS.get<ClaimSettings>(settingsKey(tenantId), "json");
  const settings = cached ? claimSettingsSchema.parse(cached) : (await loadSettings(db, tenantId)).claim;
  if (!cached) await env.CLAIMS.put(settingsKey(tenantId), JSON.stringify(settings));
  if (settingsInIsolate.size > 10_000) settingsInIsolate.clear();
  settingsInIsolate.set(tenantId, { settings, until: Date.now() + SETTINGS_TTL_MS });
  return settings;
}

/** Called after the tenant's settings change, so claims are rebuilt with the new ones. */
export async function claimSettingsChanged(env: Env, tenantId: string, settings: TenantSettings) {
  settingsInIsolate.delete(tenantId);
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

async function userExists(db: Db, tenantId: string, userId: string) {
  const row = await db.get(sql`SELECT 1 AS x FROM users WHERE tenant_id = ${tenantId} AND id = ${userId}`);
  return row !== undefined;
}

export interface Claim {
  name: string;
  values: string[] | null;
  count: number;
}

/** The user's claim: from KV when it was built with the current settings, else rebuilt from D1. */
export async function readClaim(scope: Scope, userId: string): Promise<Claim> {
  const { env, db, tenantId } = scope;
  const [settings, cached] = await Promise.all([
    claimSettings(env, db, tenantId),
    env.CLAIMS.get<StoredClaim>(claimKey(tenantId, userId), "json"),
  ]);
  if (cached && cached.stamp === stampOf(settings)) return { name: settings.name, values: cached.values, count: cached.count };
  if (!(await userExists(db, tenantId, userId))) throw notFound("user", userId);
  const built = (await buildClaims(db, tenantId, [userId], settings)).get(userId)!;
  await env.CLAIMS.put(claimKey(tenantId, userId), JSON.stringify(built));
  return { name: settings.name, values: built.values, count: built.count };
}

/**
 * The claim as a token carries it. Past the overage limit the values give way to the
 * OIDC distributed-claims pointer (`_claim_names` / `_claim_sources`), as identity
 * providers do for large group sets.
 */
export function claimObject(claim: Claim, groupsEndpoint: string): Record<string, unknown> {
  if (claim.values) return { [claim.name]: claim.values };
  return {
    _claim_names: { [claim.name]: "src1" },
    _claim_sources: { src1: { endpoint: groupsEndpoint } },
  };
}
