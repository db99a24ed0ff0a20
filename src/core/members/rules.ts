// The tenant's membership limits, checked by every path that adds members: the single
// writes (writes.ts) and the group commit (flush.ts), from state each read its own way.
import type { TenantSettings } from "../config/rules";
import { CoreError } from "../shared/errors";

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
