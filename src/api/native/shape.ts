// Core rows → the native wire format (seed 000): snake_case, epoch seconds.

import type { GroupPatch, GroupRow } from "../../core/groups";
import type { HeldGroupTransitive, HierarchyCounts, TransitiveMember } from "../../core/hierarchy";
import type { ApiKeyRow } from "../../core/keys";
import type { EffectiveRole, RoleRow } from "../../core/roles";
import type { RuleRow } from "../../core/rules";
import type { HeldGroup, MemberRow, UserRow } from "../../core/users";
import type { WebhookDelivery, WebhookEndpoint } from "../../core/webhooks";

const seconds = (ms: number) => Math.floor(ms / 1000);
const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

type GroupFields = Pick<GroupRow, "id" | "name" | "description" | "type" | "customData" | "memberCount" | "createdAt" | "updatedAt"> &
  Partial<Pick<GroupRow, "welcomeMessage">>;

const countsOut = (h: HierarchyCounts) => ({
  user_count: h.userCount,
  sub_group_count: h.subGroupCount,
  parent_group_count: h.parentGroupCount,
});

/** With counts: the hierarchy figures too (distinct users across the hierarchy, direct sub and parent groups). */
export const groupOut = (g: GroupFields, counts?: HierarchyCounts) => ({
  group_id: g.id,
  name: g.name,
  description: g.description,
  type: g.type,
  custom_data: json(g.customData),
  ...("welcomeMessage" in g ? { welcome_message: g.welcomeMessage } : {}),
  member_count: g.memberCount,
  ...(counts ? countsOut(counts) : {}),
  created_at: seconds(g.createdAt),
  updated_at: seconds(g.updatedAt),
});

export const userOut = (u: UserRow) => ({
  user_id: u.id,
  email: u.email,
  phone_number: u.phoneNumber,
  name: u.name,
  given_name: u.givenName,
  family_name: u.familyName,
  picture: u.picture,
  custom_data: json(u.customData),
  created_at: seconds(u.createdAt),
  updated_at: seconds(u.updatedAt),
});

const secondsOrNull = (ms: number | null) => (ms === null ? null : seconds(ms));

export const memberOut = (m: MemberRow) => ({
  ...userOut(m),
  role: m.role,
  added_at: seconds(m.addedAt),
  sources: m.sources,
  expires_at: secondsOrNull(m.expiresAt),
});
export const heldGroupOut = (h: HeldGroup) => ({
  ...groupOut(h.group),
  role: h.role,
  sources: h.sources,
  expires_at: secondsOrNull(h.expiresAt),
});
export const transitiveMemberOut = (m: TransitiveMember) => ({ ...userOut(m), direct: m.direct, sources: m.sources });
export const transitiveHeldGroupOut = (h: HeldGroupTransitive) => ({
  ...groupOut(h.group),
  role: h.role,
  membership: h.membership,
  sources: h.sources,
});

/** The native body fields of a group → the core's. */
export const groupFieldsIn = (b: {
  name?: string;
  description?: string;
  type?: string;
  custom_data?: Record<string, unknown>;
  welcome_message?: string | null;
}): GroupPatch => ({
  name: b.name,
  description: b.description,
  type: b.type,
  customData: b.custom_data,
  welcomeMessage: b.welcome_message,
});

/** The native body fields of a user → the core profile. */
export const profileIn = (b: {
  email?: string | null;
  phone_number?: string | null;
  name?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  picture?: string | null;
  custom_data?: Record<string, unknown>;
}) => ({
  email: b.email,
  phoneNumber: b.phone_number,
  name: b.name,
  givenName: b.given_name,
  familyName: b.family_name,
  picture: b.picture,
  customData: b.custom_data,
});

export const roleOut = (r: RoleRow) => ({
  role_id: r.id,
  key: r.key,
  name: r.name,
  description: r.description,
  level: r.level,
  created_at: seconds(r.createdAt),
  updated_at: seconds(r.updatedAt),
});

export const effectiveRoleOut = (r: EffectiveRole) => ({ ...roleOut(r), direct: r.direct, via_groups: r.via_groups });

export const apiKeyOut = (k: ApiKeyRow) => ({
  key_id: k.id,
  name: k.name,
  hint: k.hint,
  scopes: k.scopes.split(" ").filter(Boolean),
  created_by: k.createdBy,
  created_at: seconds(k.createdAt),
  last_used_at: k.lastUsedAt === null ? null : seconds(k.lastUsedAt),
  expires_at: k.expiresAt === null ? null : seconds(k.expiresAt),
  revoked_at: k.revokedAt === null ? null : seconds(k.revokedAt),
});

export const webhookOut = (w: WebhookEndpoint) => ({
  webhook_id: w.id,
  url: w.url,
  description: w.description,
  types: w.types === null ? null : (JSON.parse(w.types) as string[]),
  paused: w.paused === 1,
  previous_secret_expires_at: w.previousSecretUntil !== null && w.previousSecretUntil > Date.now() ? seconds(w.previousSecretUntil) : null,
  created_by: w.createdBy,
  created_at: seconds(w.createdAt),
  updated_at: seconds(w.updatedAt),
});

export const deliveryOut = (d: WebhookDelivery) => ({
  event_id: d.eventId,
  cursor: String(d.cursor),
  status: d.status as "pending" | "delivered" | "dead",
  attempts: d.attempts,
  last_attempt_at: d.lastAttemptAt === null ? null : seconds(d.lastAttemptAt),
  last_status: d.lastStatus,
  last_error: d.lastError,
  next_attempt_at: d.status === "pending" ? seconds(d.nextAttemptAt) : null,
  delivered_at: d.deliveredAt === null ? null : seconds(d.deliveredAt),
});

export const ruleOut = (r: RuleRow) => ({
  group_id: r.groupId,
  expression: r.expression,
  paused: r.paused !== 0,
  created_by: r.createdBy,
  created_at: seconds(r.createdAt),
  updated_at: seconds(r.updatedAt),
});
