// Each user's groups claim, as an ID token would carry it. D1 is the truth; KV holds
// the built claim under a key per tenant and user, and can be wiped at any time.
import { sql } from "drizzle-orm";
import { writeClaimsSoon } from "../../coordinator/claims-writers";
import type { Env } from "../../env";
import type { Db, Scope } from "../shared/context";
import { notFound } from "../shared/errors";
import { buildClaims, claimKey, claimSettings, type StoredClaim, stampOf } from "./reads";

export { claimKey } from "./reads";

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
    claimSettings(db, tenantId),
    env.CLAIMS.get<StoredClaim>(claimKey(tenantId, userId), "json"),
  ]);
  const current = cached && cached.stamp === stampOf(settings) && !(cached.until && Date.now() >= cached.until);
  if (current) return { name: settings.name, values: cached.values, count: cached.count };
  if (!(await userExists(db, tenantId, userId))) throw notFound("user", userId);
  const built = (await buildClaims(db, tenantId, [userId], settings)).get(userId)!;
  // Its writer puts it in KV: a put from here could land after a newer one and stay.
  await writeClaimsSoon(env, tenantId, [userId]);
  return { name: settings.name, values: built.values, count: built.count };
}

/** A deleted user's claim leaves KV by the user's claims writer, the key's only writer. */
export async function forgetClaim(env: Env, tenantId: string, userId: string) {
  await writeClaimsSoon(env, tenantId, [userId]);
}

/** How long before its writer looks at a claim that a delete about to commit may leave stale. */
export const CLAIM_JOURNAL_DELAY_MS = 10_000;

/**
 * Before a change outside any group's coordinator commits (a user's delete): the user's
 * claims writer is told to look again a little later, in its own storage. If the request is
 * cut off after its commit, before forgetClaim, the writer still finds the user gone and
 * drops the claim; if the change never commits, it writes the same claim again.
 */
export async function journalClaim(env: Env, tenantId: string, userId: string) {
  await writeClaimsSoon(env, tenantId, [userId], CLAIM_JOURNAL_DELAY_MS);
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
