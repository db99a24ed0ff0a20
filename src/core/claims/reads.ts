// Building users' claims from D1, and the tenant's claim settings as the claims see them.
import { sql } from "drizzle-orm";
import { configOf, heldSettings, storedConfigQuery } from "../config/reads";
import type { TenantSettings } from "../config/rules";
import { SOURCE_BITS } from "../members/sources";
import { batch, type Db } from "../shared/context";
import { tenantScoped } from "../shared/ids";

export type ClaimSettings = TenantSettings["claim"];

/** What KV holds for a user: the claim values, or only their count past the overage limit. */
export interface StoredClaim {
  /** The claim settings it was built with; a claim built with other settings is rebuilt. */
  stamp: string;
  values: string[] | null;
  count: number;
  /** When a direct membership it counts expires (epoch ms): from then on the claim is rebuilt, not read. */
  until?: number;
}

export const claimKey = (tenantId: string, userId: string) => `claims:${tenantScoped(tenantId, userId)}`;
export const stampOf = (s: ClaimSettings) => JSON.stringify(s);

/**
 * The groups of many users in one query: direct ones (inherited 0), and those above them (inherited 1), which the
 * claim counts if its settings say so (claimsOf). Always followed, so a claims writer can read the settings in the
 * same round trip (readClaimsState); a group both held and inherited comes twice.
 */
export const claimsQuery = (tenantId: string, userIds: string[]) => sql`
    WITH RECURSIVE held(user_id, group_id, inherited) AS (
      SELECT m.user_id, m.group_id, 0 FROM json_each(${JSON.stringify(userIds)}) j
        CROSS JOIN live_memberships m ON m.tenant_id = ${tenantId} AND m.user_id = j.value
      UNION
      SELECT h.user_id, e.parent_id, 1 FROM held h
        CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = h.group_id
    )
    SELECT h.user_id, g.id, g.name, h.inherited FROM held h CROSS JOIN groups g ON g.tenant_id = ${tenantId} AND g.id = h.group_id
    ORDER BY h.user_id, g.name_key`;

/** Per user, the first expiry of a membership only the direct source holds: the claim changes then. */
const firstExpiryQuery = (tenantId: string, userIds: string[]) => sql`
    SELECT m.user_id, min(m.expires_at) AS until FROM json_each(${JSON.stringify(userIds)}) j
      CROSS JOIN live_memberships m ON m.tenant_id = ${tenantId} AND m.user_id = j.value
    WHERE m.expires_at IS NOT NULL AND m.sources = ${SOURCE_BITS.direct} GROUP BY m.user_id`;

type ClaimRow = { user_id: string; id: string; name: string; inherited: number };
type ExpiryRow = { user_id: string; until: number };

/** Each user's claim from the rows of claimsQuery and firstExpiryQuery, under these settings. */
function claimsOf(userIds: string[], rows: ClaimRow[], expiring: ExpiryRow[], s: ClaimSettings): Map<string, StoredClaim> {
  const until = new Map(expiring.map((r) => [r.user_id, r.until]));
  const byUser = new Map<string, Set<string>>(userIds.map((u) => [u, new Set()]));
  for (const r of rows) if (s.includeInherited || !r.inherited) byUser.get(r.user_id)?.add(s.values === "ids" ? r.id : r.name);
  const stamp = stampOf(s);
  const out = new Map<string, StoredClaim>();
  for (const [user, held] of byUser) {
    const values = [...held];
    const ends = until.get(user);
    out.set(user, {
      stamp,
      values: values.length > s.overageLimit ? null : values,
      count: values.length,
      ...(ends ? { until: ends } : {}),
    });
  }
  return out;
}

export async function buildClaims(db: Db, tenantId: string, userIds: string[], s: ClaimSettings): Promise<Map<string, StoredClaim>> {
  const [held, expiring] = await batch(db, [claimsQuery(tenantId, userIds), firstExpiryQuery(tenantId, userIds)]);
  return claimsOf(userIds, held!.results as ClaimRow[], expiring!.results as ExpiryRow[], s);
}

/**
 * What a claims writer needs, in one round trip: the tenant's claim settings as stored now (not an isolate's
 * held copy: a refresh after a change of them must see it), which of the users exist, and their claims.
 */
export async function readClaimsState(db: Db, tenantId: string, userIds: string[]) {
  const [config, existing, held, expiring] = await batch(db, [
    storedConfigQuery(tenantId),
    sql`SELECT u.id FROM json_each(${JSON.stringify(userIds)}) j CROSS JOIN users u ON u.tenant_id = ${tenantId} AND u.id = j.value`,
    claimsQuery(tenantId, userIds),
    firstExpiryQuery(tenantId, userIds),
  ]);
  const { settings } = configOf(config!.results[0] as { settings: string; version: number } | undefined);
  const live = (existing!.results as { id: string }[]).map((r) => r.id);
  return { settings, claims: claimsOf(live, held!.results as ClaimRow[], expiring!.results as ExpiryRow[], settings.claim) };
}

/** The tenant's claim settings (held in this isolate a few seconds: config/reads.ts heldSettings). */
export async function claimSettings(db: Db, tenantId: string): Promise<ClaimSettings> {
  return (await heldSettings(db, tenantId)).claim;
}
