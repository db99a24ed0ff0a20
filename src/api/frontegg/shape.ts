// Core rows → the seed-001 wire format: camelCase, ISO 8601 times, metadata as a JSON string.
import type { TenantSettings } from "../../core/config";
import type { GroupView } from "../../core/groups";
import type { RoleRow } from "../../core/roles";
import { isoTime as iso } from "../../core/shared/time";
import type { UserRow } from "../../core/users";

export const roleOut = (r: RoleRow) => ({
  id: r.id,
  key: r.key,
  name: r.name,
  description: r.description,
  level: r.level,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
});

export const userOut = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  phoneNumber: u.phoneNumber,
  profilePictureUrl: u.picture,
  createdAt: iso(u.createdAt),
});

export const groupOut = ({ group: g, roles, users }: GroupView) => ({
  id: g.id,
  name: g.name,
  description: g.description,
  color: g.color,
  metadata: g.customData,
  ...(roles ? { roles: roles.map(roleOut) } : {}),
  ...(users ? { users: users.map((u) => ({ ...userOut(u), sources: u.sources })) } : {}),
  createdAt: iso(g.createdAt),
  updatedAt: iso(g.updatedAt),
});

export const configOut = (s: TenantSettings) => ({
  enabled: s.groupsEnabled,
  rolesEnabled: s.rolesOnGroupsEnabled,
  maxMembersPerGroup: s.maxMembersPerGroup,
  maxGroupsPerUser: s.maxGroupsPerUser,
  maxHierarchyDepth: s.maxHierarchyDepth,
  claim: s.claim,
});
