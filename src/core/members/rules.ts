// The tenant's membership limits, checked by every path that adds members: the single
// writes (writes.ts) and the group commit (flush.ts), from state each read its own way.
import { type SQL, sql } from "drizzle-orm";
import { DEFAULT_SETTINGS, type TenantSettings } from "../config/rules";
import { CoreError } from "../shared/errors";
import { abortIf, isAborted, RACE_TRIES } from "../shared/preconditions";

/** 422 when the group would hold more members than the tenant allows. */
export function checkMembersPerGroup(groupId: string, resulting: number, settings: TenantSettings) {
  if (resulting > settings.maxMembersPerGroup) {
    throw new CoreError(
      "limit_exceeded",
      `group '${groupId}' would have ${resulting} members; this tenant allows at most ${settings.maxMembersPerGroup}`,
    );
  }
}

/** 422 naming the joining users already in as many groups as the tenant allows (full: those users and their counts). */
export function checkGroupsPerUser(full: { user_id: string; n: number }[], settings: TenantSettings) {
  if (full.length === 0) return;
  throw new CoreError(
    "limit_exceeded",
    `${full.length} user(s) are already in ${settings.maxGroupsPerUser} groups, the most this tenant allows`,
    full.slice(0, 20).map((r) => ({ field: "user_ids", message: `user '${r.user_id}' is in ${r.n} groups` })),
  );
}

/** A limit from the tenant's stored settings, in SQL (absent: the default). */
const limitSql = (tenantId: string, key: "maxMembersPerGroup" | "maxGroupsPerUser") =>
  sql`coalesce((SELECT json_extract(settings, ${`$.${key}`}) FROM tenant_config WHERE tenant_id = ${tenantId}), ${DEFAULT_SETTINGS[key]})`;

/**
 * Both limits as one SQL condition, for a batch that checks them itself (core/shared/preconditions.ts):
 * true when adding `joining` (SQL selecting the user_ids not yet members) would break one.
 */
export const addBreaksLimitsSql = (tenantId: string, groupId: string, joining: SQL) => sql`(
  (SELECT member_count FROM groups WHERE tenant_id = ${tenantId} AND id = ${groupId}) + (SELECT count(*) FROM (${joining}))
    > ${limitSql(tenantId, "maxMembersPerGroup")}
  OR EXISTS (SELECT 1 FROM (${joining}) u WHERE ${groupsOfUserSql(tenantId, sql`u.user_id`)} >= ${limitSql(tenantId, "maxGroupsPerUser")}))`;

/** How many groups the user (an SQL expression) is a direct member of: what maxGroupsPerUser bounds. */
const groupsOfUserSql = (tenantId: string, user: SQL) =>
  sql`(SELECT count(*) FROM memberships m WHERE m.tenant_id = ${tenantId} AND m.user_id = ${user})`;

/**
 * For the end of a batch that makes these users (a JSON id list) members: it fails the batch when one of them is now
 * in more groups than the tenant allows. Each group's coordinator checks the limit from its own read, and another
 * group's coordinator may add the same user between that read and this batch. afterRacingAdds runs the add again.
 */
export const groupsPerUserHeld = (tenantId: string, idsJson: string) =>
  abortIf(
    sql`EXISTS (SELECT 1 FROM json_each(${idsJson}) j WHERE ${groupsOfUserSql(tenantId, sql`j.value`)} > ${limitSql(tenantId, "maxGroupsPerUser")})`,
  );

/** A read-then-write add whose batch ends with groupsPerUserHeld, run again (reading again) when that failed it. */
export async function afterRacingAdds<T>(add: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await add(attempt);
    } catch (e) {
      if (!isAborted(e)) throw e;
      if (attempt === RACE_TRIES) {
        throw new CoreError(
          "unavailable",
          "these users' memberships in other groups kept changing while this change was written: send it again",
        );
      }
    }
  }
}
