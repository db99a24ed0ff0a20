// What the SCIM surface needs from core: filtered, counted pages of users and groups,
// group members (users and child groups) for a page, saving a provisioned user, and
// changing a group's members by SCIM member values.
import { and, asc, count, eq, isNotNull, type SQL, sql } from "drizzle-orm";
import { groups, users } from "../../db/schema";
import type { GroupRow } from "../groups/writes";
import { linkChildren, unlinkChildren } from "../hierarchy";
import * as members from "../members";
import type { Scope } from "../shared/context";
import { CoreError } from "../shared/errors";
import { createUser, patchUser, putUser, type UserProfile, type UserRow } from "../users";

// What surfaces use of the domain code, through this entry point.
export { GROUP_ATTRIBUTES, USER_ATTRIBUTES } from "./attributes";
export { compileFilter, parseFilter } from "./filter";

export interface OffsetPage<T> {
  rows: T[];
  total: number;
}

/** SCIM lists users who were provisioned with a userName (bare profiles made by memberships are not SCIM users). */
export async function scimUserPage(scope: Scope, where: SQL | undefined, startIndex: number, take: number): Promise<OffsetPage<UserRow>> {
  const cond = and(eq(users.tenantId, scope.tenantId), isNotNull(users.userName), where);
  const [rows, totals] = await Promise.all([
    take === 0
      ? []
      : scope.db
          .select()
          .from(users)
          .where(cond)
          .orderBy(asc(users.createdAt), asc(users.id))
          .limit(take)
          .offset(startIndex - 1)
          .all(),
    scope.db.select({ n: count() }).from(users).where(cond).all(),
  ]);
  return { rows, total: totals[0]?.n ?? 0 };
}

export async function scimGroupPage(scope: Scope, where: SQL | undefined, startIndex: number, take: number): Promise<OffsetPage<GroupRow>> {
  const cond = and(eq(groups.tenantId, scope.tenantId), where);
  const [rows, totals] = await Promise.all([
    take === 0
      ? []
      : scope.db
          .select()
          .from(groups)
          .where(cond)
          .orderBy(asc(groups.createdAt), asc(groups.id))
          .limit(take)
          .offset(startIndex - 1)
          .all(),
    scope.db.select({ n: count() }).from(groups).where(cond).all(),
  ]);
  return { rows, total: totals[0]?.n ?? 0 };
}

export interface ScimMember {
  value: string;
  display: string | null;
  type: "User" | "Group";
}

/** The members of these groups: users (with the display they were given) and child groups; one query. */
export async function scimMembersOf(scope: Scope, groupIds: string[]): Promise<Map<string, ScimMember[]>> {
  const out = new Map<string, ScimMember[]>(groupIds.map((g) => [g, []]));
  if (groupIds.length === 0) return out;
  const t = scope.tenantId;
  const rows = await scope.db.all<{ group_id: string; value: string; display: string | null; type: "User" | "Group" }>(sql`
    SELECT m.group_id, m.user_id AS value, coalesce(m.display, u.name, u.user_name) AS display, 'User' AS type
      FROM json_each(${JSON.stringify(groupIds)}) j
      CROSS JOIN live_memberships m ON m.tenant_id = ${t} AND m.group_id = j.value
      LEFT JOIN users u ON u.tenant_id = ${t} AND u.id = m.user_id
    UNION ALL
    SELECT e.parent_id, e.child_id, g.name, 'Group' FROM json_each(${JSON.stringify(groupIds)}) j
      CROSS JOIN group_edges e ON e.tenant_id = ${t} AND e.parent_id = j.value
      CROSS JOIN groups g ON g.tenant_id = ${t} AND g.id = e.child_id
    ORDER BY 1, 2`);
  for (const { group_id, ...m } of rows) out.get(group_id)?.push(m);
  return out;
}

/**
 * Save a provisioned user. SCIM does not make emails or phone numbers unique, this
 * service's profile columns do: when another user holds the address, it stays in the
 * SCIM attributes only.
 */
export async function saveScimUser(scope: Scope, id: string, profile: UserProfile, mode: "create" | "replace" | "patch"): Promise<UserRow> {
  const save = (p: UserProfile) =>
    mode === "create" ? createUser(scope, id, p) : mode === "replace" ? putUser(scope, id, p).then((r) => r.row) : patchUser(scope, id, p);
  try {
    return await save(profile);
  } catch (e) {
    if (!(e instanceof CoreError && e.kind === "conflict")) throw e;
    const field = e.details[0]?.field;
    if (field === "email" || field === "phone_number") {
      return save({ ...profile, ...(field === "email" ? { email: null } : { phoneNumber: null }) }).catch(async (again) => {
        if (again instanceof CoreError && again.kind === "conflict" && again.details[0]?.field !== "userName") {
          return save({ ...profile, email: null, phoneNumber: null });
        }
        throw again;
      });
    }
    throw e;
  }
}

/** Member values split by what they name: users, groups (linked as child groups), or nothing known (ignored). */
async function partition(scope: Scope, values: string[]) {
  const rows = await scope.db.all<{ value: string; kind: "user" | "group" | null }>(sql`
    SELECT j.value,
      CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = ${scope.tenantId} AND u.id = j.value) THEN 'user'
           WHEN EXISTS (SELECT 1 FROM groups g WHERE g.tenant_id = ${scope.tenantId} AND g.id = j.value) THEN 'group' END AS kind
    FROM json_each(${JSON.stringify(values)}) j`);
  return {
    users: rows.filter((r) => r.kind === "user").map((r) => r.value),
    groups: rows.filter((r) => r.kind === "group").map((r) => r.value),
  };
}

export async function addScimMembers(scope: Scope, groupId: string, values: { value: string; display?: string }[]) {
  if (values.length === 0) return;
  const { users: userIds, groups: groupIds } = await partition(
    scope,
    values.map((v) => v.value),
  );
  const displays = Object.fromEntries(values.filter((v) => v.display && userIds.includes(v.value)).map((v) => [v.value, v.display!]));
  if (userIds.length > 0) await members.addMembers(scope, groupId, userIds, { source: "scim", displays });
  if (groupIds.length > 0) await linkChildren(scope, groupId, groupIds);
}

export async function removeScimMembers(scope: Scope, groupId: string, values: string[]) {
  if (values.length === 0) return;
  const { users: userIds, groups: groupIds } = await partition(scope, values);
  if (userIds.length > 0) await members.removeMembers(scope, groupId, userIds, "scim");
  if (groupIds.length > 0) await unlinkChildren(scope, groupId, groupIds);
}

/** Make the group's members exactly these (users through the group's coordinator, child groups through the hierarchy's). */
export async function replaceScimMembers(scope: Scope, groupId: string, values: { value: string; display?: string }[]) {
  const { users: userIds, groups: groupIds } = await partition(
    scope,
    values.map((v) => v.value),
  );
  await members.replaceMembers(scope, groupId, userIds, { source: "scim" });
  const displays = values.filter((v) => v.display && userIds.includes(v.value));
  if (displays.length > 0)
    await members.addMembers(
      scope,
      groupId,
      displays.map((v) => v.value),
      { source: "scim", displays: Object.fromEntries(displays.map((v) => [v.value, v.display!])) },
    );
  const current = (await scimMembersOf(scope, [groupId]))
    .get(groupId)!
    .filter((m) => m.type === "Group")
    .map((m) => m.value);
  const unlink = current.filter((g) => !groupIds.includes(g));
  const link = groupIds.filter((g) => !current.includes(g));
  if (unlink.length > 0) await unlinkChildren(scope, groupId, unlink);
  if (link.length > 0) await linkChildren(scope, groupId, link);
}
