// Building users' claims from D1, and the tenant's claim settings as the claims see them.
import { sql } from "drizzle-orm";
import { heldSettings } from "../config/reads";
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

/** The claims of many users in one query: direct groups, plus inherited ones if configured. */
export const claimsQuery = (tenantId: string, userIds: string[], s: ClaimSettings) => sql`
    WITH RECURSIVE held(user_id, group_id) AS (
      SELECT m.user_id, m.group_id FROM json_each(${JSON.stringify(userIds)}) j
        CROSS JOIN live_memberships m ON m.tenant_id = ${tenantId} AND m.user_id = j.value
      UNION
      SELECT h.user_id, e.parent_id FROM held h
        CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = h.group_id
        WHERE ${s.includeInherited ? 1 : 0}
    )
    SELECT h.user_id, g.id, g.name FROM held h CROSS JOIN groups g ON g.tenant_id = ${tenantId} AND g.id = h.group_id
    ORDER BY h.user_id, g.name_key`;

/** Per user, the first expiry of a membership only the direct source holds: the claim changes then. */
const firstExpiryQuery = (tenantId: string, userIds: string[]) => sql`
    SELECT m.user_id, min(m.expires_at) AS until FROM json_each(${JSON.stringify(userIds)}) j
      CROSS JOIN live_memberships m ON m.tenant_id = ${tenantId} AND m.user_id = j.value
    WHERE m.expires_at IS NOT NULL AND m.sources = ${SOURCE_BITS.direct} GROUP BY m.user_id`;

export async function buildClaims(db: Db, tenantId: string, userIds: string[], s: ClaimSettings): Promise<Map<string, StoredClaim>> {
  const [held, expiring] = await batch(db, [claimsQuery(tenantId, userIds, s), firstExpiryQuery(tenantId, userIds)]);
  const rows = held!.results as { user_id: string; id: string; name: string }[];
  const until = new Map((expiring!.results as { user_id: string; until: number }[]).map((r) => [r.user_id, r.until]));
  const byUser = new Map<string, string[]>(userIds.map((u) => [u, []]));
  for (const r of rows) byUser.get(r.user_id)?.push(s.values === "ids" ? r.id : r.name);
  const stamp = stampOf(s);
  const out = new Map<string, StoredClaim>();
  for (const [user, values] of byUser) {
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

/** The tenant's claim settings (held in this isolate a few seconds: config/reads.ts heldSettings). */
export async function claimSettings(db: Db, tenantId: string): Promise<ClaimSettings> {
  return (await heldSettings(db, tenantId)).claim;
}
