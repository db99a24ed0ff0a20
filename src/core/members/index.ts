// The entry points every surface calls to change a group's members. Each goes
// through the group's coordinator: adds, removes and role changes are group-committed
// (flush.ts), a replace runs alone; each is applied whole or not at all.

import { callerOf, coordinatorOf, unwrap } from "../../coordinator/client";
import type { Scope } from "../shared/context";
import { notMember } from "../shared/errors";
import { uniqueIds } from "../shared/ids";
import { assertExpiry } from "../shared/time";
import type { MembershipSource } from "./sources";
import type { MemberRole } from "./writes";

export type { MemberRole, MembershipSource };

/** Each outcome carries the group's version right after the change (its new ETag). */
export interface AddOutcome {
  added: number;
  already_members: number;
  version: number;
}
export interface RemoveOutcome {
  removed: number;
  not_members: number;
  /** Members this caller's source no longer holds but another source still does (they stay). */
  still_members: { user_id: string; sources: MembershipSource[] }[];
  version: number;
}
export interface ReplaceOutcome {
  added: number;
  removed: number;
  member_count: number;
  version: number;
}

/** How an add or a replace holds its users. expiresAt (epoch ms, direct source only): when the direct membership ends. */
export interface HoldOptions {
  role?: MemberRole;
  /** The caller's source (core/members/sources.ts sourceBit): api (direct), scim, kaizala (direct), ... */
  source?: string;
  /** How the caller names some members (SCIM members[].display). */
  displays?: Record<string, string>;
  expiresAt?: number;
}

export function addMembers(scope: Scope, groupId: string, userIds: string[], o: HoldOptions = {}): Promise<AddOutcome> {
  assertExpiry(o.expiresAt);
  return unwrap(
    coordinatorOf(scope, groupId).addMembers(
      callerOf(scope, groupId, o.source),
      uniqueIds(userIds),
      o.role ?? "member",
      o.displays ?? {},
      o.expiresAt,
    ),
  );
}

export function removeMembers(scope: Scope, groupId: string, userIds: string[], source = "api"): Promise<RemoveOutcome> {
  return unwrap(coordinatorOf(scope, groupId).removeMembers(callerOf(scope, groupId, source), uniqueIds(userIds)));
}

export function replaceMembers(scope: Scope, groupId: string, userIds: string[], o: HoldOptions = {}): Promise<ReplaceOutcome> {
  assertExpiry(o.expiresAt);
  return unwrap(
    coordinatorOf(scope, groupId).replaceMembers(callerOf(scope, groupId, o.source), uniqueIds(userIds), o.role ?? "member", o.expiresAt),
  );
}

/** A member's role and when their direct membership ends (null: never); the group's version after the change. */
export async function updateMember(
  scope: Scope,
  groupId: string,
  userId: string,
  change: { role?: MemberRole; expiresAt?: number | null },
): Promise<number> {
  assertExpiry(change.expiresAt);
  return (await unwrap(coordinatorOf(scope, groupId).updateMember(callerOf(scope, groupId), userId, change))).version;
}

/**
 * Remove one member; a user who is not a member is a 404, not a silent no-op. The group's
 * version after, and the sources that still hold the user when another one does.
 */
export async function removeMember(
  scope: Scope,
  groupId: string,
  userId: string,
): Promise<{ version: number; still: MembershipSource[] | null }> {
  const r = await removeMembers(scope, groupId, [userId]);
  if (r.not_members > 0) throw notMember(userId, groupId);
  return { version: r.version, still: r.still_members[0]?.sources ?? null };
}
