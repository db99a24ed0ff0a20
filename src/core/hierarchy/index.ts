// Nested groups: links, and the reads that walk them. Every walk is one recursive CTE
// in D1 (UNION, so a diamond visits a group once), never a query per level.

import { sql } from "drizzle-orm";
import { callerOf, hierarchyCoordinatorOf, unwrap } from "../../coordinator/client";
import { users } from "../../db/schema";
import { assertGroupExists } from "../groups/reads";
import type { GroupRow } from "../groups/writes";
import { type MembershipSource, sourceNames } from "../members/sources";
import type { Scope } from "../shared/context";
import { CoreError, notFound } from "../shared/errors";
import { uniqueIds } from "../shared/ids";
import { decodeCursor, type Page, pageOf } from "../shared/paging";
import { rowOf } from "../shared/rows";
import type { UserRow } from "../users";
import { groupsBelowCte, subtreesCte } from "./below";
import { heldGroupsCte } from "./held";

const json = (v: unknown) => JSON.stringify(v);

export function linkChildren(scope: Scope, parentId: string, childIds: string[]) {
  return unwrap(hierarchyCoordinatorOf(scope).linkChildren(callerOf(scope, parentId), uniqueIds(childIds)));
}

export function unlinkChildren(scope: Scope, parentId: string, childIds: string[]) {
  return unwrap(hierarchyCoordinatorOf(scope).unlinkChildren(callerOf(scope, parentId), uniqueIds(childIds)));
}

const groupColumns = sql`g.id, g.name, g.description, g.type, g.custom_data AS customData, g.member_count AS memberCount,
  g.created_at AS createdAt, g.updated_at AS updatedAt`;
export type LinkedGroup = Pick<GroupRow, "id" | "name" | "description" | "type" | "customData" | "memberCount" | "createdAt" | "updatedAt">;

/** Direct children (or parents) of a group, in name order. */
export async function neighbours(scope: Scope, groupId: string, direction: "children" | "parents"): Promise<LinkedGroup[]> {
  await assertGroupExists(scope, groupId);
  const t = scope.tenantId;
  const edges =
    direction === "children"
      ? sql`SELECT child_id AS id FROM group_edges WHERE tenant_id = ${t} AND parent_id = ${groupId}`
      : sql`SELECT parent_id AS id FROM group_edges WHERE tenant_id = ${t} AND child_id = ${groupId}`;
  return scope.db.all<LinkedGroup>(sql`SELECT ${groupColumns} FROM (${edges}) x
    CROSS JOIN groups g ON g.tenant_id = ${t} AND g.id = x.id ORDER BY g.name_key`);
}

export interface HierarchyCounts {
  /** Distinct users in the group or any group below it. */
  userCount: number;
  subGroupCount: number;
  parentGroupCount: number;
}

/**
 * Counts for many groups: one query for the cached counts and the edge counts, and one
 * recursive CTE for the groups whose count is not cached (stored back unless a change
 * under the group raced the read; see subtree-counts.ts).
 */
export async function hierarchyCounts(scope: Scope, groupIds: string[]): Promise<Map<string, HierarchyCounts>> {
  const out = new Map<string, HierarchyCounts>();
  if (groupIds.length === 0) return out;
  const t = scope.tenantId;
  const known = await scope.db.all<{
    id: string;
    cached: number | null;
    agg_version: number;
    sub_groups: number;
    parent_groups: number;
  }>(sql`
    SELECT g.id, g.user_count_cache AS cached, g.agg_version,
      (SELECT count(*) FROM group_edges e WHERE e.tenant_id = ${t} AND e.parent_id = g.id) AS sub_groups,
      (SELECT count(*) FROM group_edges e WHERE e.tenant_id = ${t} AND e.child_id = g.id) AS parent_groups
    FROM json_each(${json(groupIds)}) j CROSS JOIN groups g ON g.tenant_id = ${t} AND g.id = j.value`);
  const missing = known.filter((k) => k.cached === null);
  const counted = new Map<string, number>();
  if (missing.length > 0) {
    const ids = json(missing.map((k) => k.id));
    const rows = await scope.db.all<{ root: string; n: number }>(sql`
      WITH RECURSIVE ${subtreesCte(t, ids)}
      SELECT s.root, count(DISTINCT m.user_id) AS n FROM sub s
        CROSS JOIN live_memberships m ON m.tenant_id = ${t} AND m.group_id = s.id GROUP BY s.root`);
    for (const r of rows) counted.set(r.root, r.n);
    const back = missing.map((k) => [k.id, counted.get(k.id) ?? 0, k.agg_version]);
    await scope.db.run(sql`UPDATE groups SET user_count_cache = json_extract(j.value, '$[1]') FROM json_each(${json(back)}) j
      WHERE groups.tenant_id = ${t} AND groups.id = json_extract(j.value, '$[0]')
        AND groups.agg_version = json_extract(j.value, '$[2]') AND groups.user_count_cache IS NULL`);
  }
  for (const k of known) {
    out.set(k.id, { userCount: k.cached ?? counted.get(k.id) ?? 0, subGroupCount: k.sub_groups, parentGroupCount: k.parent_groups });
  }
  return out;
}

export interface TransitiveMember extends UserRow {
  /** A member of the group itself, not only of a group below it. */
  direct: boolean;
  /** The sources of the direct membership (none when only inherited). */
  sources: MembershipSource[];
}

/** Every user in the group or any group below it, once each, paged by user id. */
export async function transitiveMembers(
  scope: Scope,
  groupId: string,
  q: { limit: number; cursor?: string },
): Promise<Page<TransitiveMember>> {
  await assertGroupExists(scope, groupId);
  const t = scope.tenantId;
  const after = q.cursor === undefined ? "" : decodeCursor(q.cursor);
  const rows = await scope.db.all<{ user_id: string; direct: number; sources: number }>(sql`
    WITH RECURSIVE ${groupsBelowCte(t, sql`SELECT ${groupId}`)}
    SELECT m.user_id, max(m.group_id = ${groupId}) AS direct, max(CASE WHEN m.group_id = ${groupId} THEN m.sources ELSE 0 END) AS sources FROM sub s
      CROSS JOIN live_memberships m ON m.tenant_id = ${t} AND m.group_id = s.id
    WHERE m.user_id > ${after}
    GROUP BY m.user_id ORDER BY m.user_id LIMIT ${q.limit + 1}`);
  const profiles = await profilesOf(
    scope,
    rows.map((r) => r.user_id),
  );
  const members = rows.flatMap((r) =>
    profiles.has(r.user_id) ? [{ ...profiles.get(r.user_id)!, direct: r.direct === 1, sources: sourceNames(r.sources) }] : [],
  );
  return pageOf(members, q.limit, (m) => m.id);
}

/** Whether the user is in the group or any group below it (one walk up from the user's groups), as transitiveMembers shows them. */
export async function transitiveMember(scope: Scope, groupId: string, userId: string): Promise<TransitiveMember> {
  const t = scope.tenantId;
  const row = await scope.db.get<{ group_exists: number; holds: number; sources: number | null }>(sql`
    WITH RECURSIVE ${heldGroupsCte(t, userId)}
    SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = ${t} AND id = ${groupId}) AS group_exists,
      EXISTS (SELECT 1 FROM held WHERE group_id = ${groupId}) AS holds,
      (SELECT sources FROM live_memberships WHERE tenant_id = ${t} AND group_id = ${groupId} AND user_id = ${userId}) AS sources`);
  if (!row?.group_exists) throw notFound("group", groupId);
  const profile = row.holds ? (await profilesOf(scope, [userId])).get(userId) : undefined;
  if (!profile) throw new CoreError("not_found", `user '${userId}' is not in group '${groupId}' or any group below it`);
  return { ...profile, direct: row.sources !== null, sources: sourceNames(row.sources ?? 0) };
}

async function profilesOf(scope: Scope, ids: string[]): Promise<Map<string, UserRow>> {
  if (ids.length === 0) return new Map();
  const rows = await scope.db.all<Record<string, unknown>>(
    sql`SELECT u.* FROM json_each(${json(ids)}) j CROSS JOIN users u ON u.tenant_id = ${scope.tenantId} AND u.id = j.value`,
  );
  return new Map(rows.map((r) => [r.id as string, rowOf(users, r)]));
}

export interface HeldGroupTransitive {
  group: LinkedGroup;
  /** The user's role when a direct member; null when the group is only inherited. */
  role: string | null;
  membership: "direct" | "inherited";
  /** The sources of the direct membership (none when only inherited). */
  sources: MembershipSource[];
}

/** The user's direct groups and every group above them, each once, marked with how it is held; paged by group id. */
export async function transitiveUserGroups(
  scope: Scope,
  userId: string,
  q: { limit: number; cursor?: string },
): Promise<Page<HeldGroupTransitive>> {
  const t = scope.tenantId;
  const user = await scope.db.get(sql`SELECT 1 AS x FROM users WHERE tenant_id = ${t} AND id = ${userId}`);
  if (!user) throw notFound("user", userId);
  const after = q.cursor === undefined ? "" : decodeCursor(q.cursor);
  const rows = await scope.db.all<LinkedGroup & { role: string | null; sources: number | null }>(sql`
    WITH RECURSIVE ${heldGroupsCte(t, userId)}
    SELECT ${groupColumns}, m.role, m.sources FROM held h
      CROSS JOIN groups g ON g.tenant_id = ${t} AND g.id = h.group_id
      LEFT JOIN live_memberships m ON m.tenant_id = ${t} AND m.group_id = h.group_id AND m.user_id = ${userId}
    WHERE h.group_id > ${after}
    ORDER BY h.group_id LIMIT ${q.limit + 1}`);
  const held = rows.map(({ role, sources, ...group }) => ({
    group,
    role,
    sources: sourceNames(sources ?? 0),
    membership: role === null ? ("inherited" as const) : ("direct" as const),
  }));
  return pageOf(held, q.limit, (h) => h.group.id);
}
