// Groups read together with their relations (roles, users), for surfaces that return
// them inline. Each relation is one query for the whole page of groups, and is loaded
// only when the caller asks for it.
import { and, asc, count, desc, eq, inArray, sql } from "drizzle-orm";
import type { UserRow } from "../../db/schema";
import { groups, liveMemberships, users } from "../../db/schema";
import { type MembershipSource, sourceNames } from "../members/sources";
import { type RoleRow, rolesOfGroups } from "../roles/reads";
import type { Db, Scope } from "../shared/context";
import { notFound } from "../shared/errors";
import type { GroupRow } from "./writes";

/** Whether the tenant has this group. */
export async function groupExists(scope: Scope, groupId: string): Promise<boolean> {
  return (await scope.db.get(sql`SELECT 1 AS x FROM groups WHERE tenant_id = ${scope.tenantId} AND id = ${groupId}`)) !== undefined;
}

/** 404 unless the tenant has this group. */
export async function assertGroupExists(scope: Scope, groupId: string) {
  if (!(await groupExists(scope, groupId))) throw notFound("group", groupId);
}

export interface Relations {
  roles: boolean;
  users: boolean;
}

export interface GroupView {
  group: GroupRow;
  roles?: RoleRow[];
  users?: GroupMember[];
}

/** A member as the groups with their relations carry it: the profile, the role and the sources that hold it. */
export type GroupMember = UserRow & { role: string; sources: MembershipSource[] };

async function membersOfGroups(db: Db, tenantId: string, groupIds: string[]) {
  const out = new Map<string, GroupMember[]>(groupIds.map((g) => [g, []]));
  if (groupIds.length === 0) return out;
  const rows = await db
    .select({ groupId: liveMemberships.groupId, role: liveMemberships.role, sources: liveMemberships.sources, user: users })
    .from(liveMemberships)
    .innerJoin(users, and(eq(users.tenantId, liveMemberships.tenantId), eq(users.id, liveMemberships.userId)))
    .where(and(eq(liveMemberships.tenantId, tenantId), inArray(liveMemberships.groupId, groupIds)))
    .orderBy(asc(liveMemberships.groupId), asc(liveMemberships.userId))
    .all();
  for (const r of rows) out.get(r.groupId)?.push({ ...r.user, role: r.role, sources: sourceNames(r.sources) });
  return out;
}

async function withRelations(scope: Scope, rows: GroupRow[], rel: Relations): Promise<GroupView[]> {
  const ids = rows.map((g) => g.id);
  // inArray binds one parameter per id; D1 allows 100 per statement, so load in slices.
  const slices: string[][] = [];
  for (let i = 0; i < ids.length; i += 90) slices.push(ids.slice(i, i + 90));
  const [roleMaps, userMaps] = await Promise.all([
    rel.roles ? Promise.all(slices.map((s) => rolesOfGroups(scope.db, scope.tenantId, s))) : [],
    rel.users ? Promise.all(slices.map((s) => membersOfGroups(scope.db, scope.tenantId, s))) : [],
  ]);
  const roleOf = new Map(roleMaps.flatMap((m) => [...m]));
  const usersOf = new Map(userMaps.flatMap((m) => [...m]));
  return rows.map((group) => ({
    group,
    ...(rel.roles ? { roles: roleOf.get(group.id) ?? [] } : {}),
    ...(rel.users ? { users: usersOf.get(group.id) ?? [] } : {}),
  }));
}

/** Every group of the tenant, in name order. */
export async function allGroupViews(scope: Scope, rel: Relations): Promise<GroupView[]> {
  const rows = await scope.db.select().from(groups).where(eq(groups.tenantId, scope.tenantId)).orderBy(asc(groups.nameKey)).all();
  return withRelations(scope, rows, rel);
}

/** These groups, in the order asked; unknown ids (or another tenant's) are left out. */
export async function groupViewsByIds(scope: Scope, ids: string[], rel: Relations): Promise<GroupView[]> {
  const rows: GroupRow[] = [];
  for (let i = 0; i < ids.length; i += 90) {
    const slice = ids.slice(i, i + 90);
    rows.push(
      ...(await scope.db
        .select()
        .from(groups)
        .where(and(eq(groups.tenantId, scope.tenantId), inArray(groups.id, slice)))
        .all()),
    );
  }
  const byId = new Map(rows.map((g) => [g.id, g]));
  const ordered = [...new Set(ids)].flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  return withRelations(scope, ordered, rel);
}

export async function groupView(scope: Scope, id: string, rel: Relations): Promise<GroupView | undefined> {
  return (await groupViewsByIds(scope, [id], rel))[0];
}

export type SortKey = "name" | "createdAt" | "updatedAt" | "id";

const sortColumns = {
  name: groups.nameKey,
  createdAt: groups.createdAt,
  updatedAt: groups.updatedAt,
  id: groups.id,
} satisfies Record<SortKey, unknown>;

export interface OffsetQuery {
  limit: number;
  offset: number;
  sortBy: SortKey;
  order: "asc" | "desc";
}

/** A page by offset, with the total: for surfaces whose clients page by number. */
export async function groupViewPage(scope: Scope, q: OffsetQuery, rel: Relations): Promise<{ items: GroupView[]; total: number }> {
  const where = eq(groups.tenantId, scope.tenantId);
  const column = sortColumns[q.sortBy];
  const direction = q.order === "asc" ? asc : desc;
  const [rows, totals] = await Promise.all([
    scope.db.select().from(groups).where(where).orderBy(direction(column), direction(groups.id)).limit(q.limit).offset(q.offset).all(),
    scope.db.select({ n: count() }).from(groups).where(where).all(),
  ]);
  return { items: await withRelations(scope, rows, rel), total: totals[0]?.n ?? 0 };
}
