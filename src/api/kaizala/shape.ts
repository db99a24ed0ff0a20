// Core rows → the seed-004 group object. Every field is computed from stored data.
import type { CallerGroup, GroupDetails } from "../../core/conversation-groups";

/** The group's picture: a `groupImageUrl` string in its custom data, when one was set. */
function imageUrlOf(customData: string): string | null {
  const value = (JSON.parse(customData) as Record<string, unknown>).groupImageUrl;
  return typeof value === "string" ? value : null;
}

/** An "Organisation" group stands for the tenant itself. */
const ORGANISATION_TYPES = new Set(["Organisation", "Organization"]);

export function groupOut(g: CallerGroup, details?: GroupDetails) {
  const { group, counts, callerRole } = g;
  const summary = {
    groupName: group.name,
    groupId: group.id,
    groupImageUrl: imageUrlOf(group.customData),
    hasSubGroups: counts.subGroupCount > 0,
    hasParentGroups: counts.parentGroupCount > 0,
    isMappedToTenant: ORGANISATION_TYPES.has(group.type),
    groupType: group.type,
    userCount: counts.userCount,
    currentLevelUserCount: group.memberCount,
    callerRole,
  };
  if (!details) return summary;
  return {
    ...summary,
    currentLevelSubGroupCount: counts.subGroupCount,
    currentLevelParentGroupCount: counts.parentGroupCount,
    uniqueUserCount: details.uniqueUserCount,
    currentLevelUnProvisionedUserCount: details.currentLevelUnProvisionedUserCount,
    unProvisionedUserCount: details.unProvisionedUserCount,
    isDuplicate: g.reachedTwice,
    isEditable: g.editable,
    isDetailsReadable: g.detailsReadable,
    welcomeMessage: group.welcomeMessage,
  };
}
