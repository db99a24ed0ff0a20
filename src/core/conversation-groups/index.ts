// Conversation groups (seed 004): groups made by a caller who becomes their Admin,
// with members named by mobile number, and listed from the caller's point of view
// (their role, the hierarchy around their groups, counts across it).
import { sql } from "drizzle-orm";
import { groups } from "../../db/schema";
import { eventStatement } from "../events/writes";
import { createGroup, deleteGroup, type GroupRow } from "../groups";
import { type HierarchyCounts, hierarchyCounts } from "../hierarchy";
import { subtreesCte } from "../hierarchy/below";
import { addMembers } from "../members";
import { batch, type Scope } from "../shared/context";
import { newId } from "../shared/ids";
import { rowOf } from "../shared/rows";
import { phoneSchema } from "../shared/validation";

const json = (v: unknown) => JSON.stringify(v);

/** The users with these phone numbers, creating a bare profile for each number no user has. */
export async function usersByPhone(scope: Scope, phones: string[]): Promise<Map<string, string>> {
  const t = scope.tenantId;
  const now = Date.now();
  const pairs = json(phones.map((p) => [p, newId()]));
  const unknown = sql`SELECT j.value ->> '$[1]' AS id FROM json_each(${pairs}) j
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = ${t} AND u.phone_number = j.value ->> '$[0]')`;
  // One user.created naming the profiles this call makes, in the batch that makes them.
  await batch(scope.db, [
    eventStatement(
      scope,
      "user.create",
      { type: "user", id: sql`(SELECT id FROM (${unknown}) LIMIT 1)` },
      sql`json_object('user_ids', (SELECT json_group_array(id) FROM (${unknown})))`,
      now,
      sql`EXISTS (${unknown})`,
    ),
    sql`INSERT INTO users (tenant_id, id, phone_number, created_at, updated_at)
    SELECT ${t}, json_extract(j.value, '$[1]'), json_extract(j.value, '$[0]'), ${now}, ${now}
    FROM json_each(${pairs}) j WHERE true ON CONFLICT DO NOTHING`,
  ]);
  const rows = await scope.db.all<{ id: string; phone_number: string }>(
    sql`SELECT u.id, u.phone_number FROM json_each(${json(phones)}) j
        CROSS JOIN users u ON u.tenant_id = ${t} AND u.phone_number = j.value`,
  );
  return new Map(rows.map((r) => [r.phone_number, r.id]));
}

export interface NewConversationGroup {
  name: string;
  welcomeMessage: string;
  members: string[];
  type: "Group" | "ConnectGroup";
}

export interface CreatedConversationGroup {
  group: GroupRow;
  membersAdded: boolean;
  invalidMembers: string[];
}

/** The caller joins as Admin; valid numbers join as members even when others are invalid. */
export async function createConversationGroup(scope: Scope, input: NewConversationGroup): Promise<CreatedConversationGroup> {
  const phones = [...new Set(input.members)];
  const valid = phones.filter((p) => phoneSchema.safeParse(p).success);
  const invalidMembers = phones.filter((p) => !phoneSchema.safeParse(p).success);
  const group = await createGroup(scope, { name: input.name, type: input.type, welcomeMessage: input.welcomeMessage });
  try {
    await addMembers(scope, group.id, [scope.actor], { role: "admin", source: "kaizala" });
    if (valid.length > 0) {
      const ids = await usersByPhone(scope, valid);
      await addMembers(
        scope,
        group.id,
        valid.map((p) => ids.get(p)!),
        { source: "kaizala" },
      );
    }
  } catch (e) {
    // The call failed as a whole: leave no half-made group behind.
    await deleteGroup(scope, group.id);
    throw e;
  }
  return { group, membersAdded: invalidMembers.length === 0, invalidMembers };
}

export type CallerRole = "Admin" | "Member" | "None";

export interface CallerGroup {
  group: GroupRow;
  callerRole: CallerRole;
  /** Reached by more than one route (the caller's own group, above one, below one). */
  reachedTwice: boolean;
  counts: HierarchyCounts;
  /** The caller may change it: its Admin, or an admin-scope token. */
  editable: boolean;
  /** The caller may read its details: a member (directly or by inheritance), or an admin-scope token. */
  detailsReadable: boolean;
}

/**
 * The caller's groups; with the hierarchy, also every group above and below them.
 * Above one of their groups the caller is a member by inheritance; below, not a member.
 */
export async function callerGroups(scope: Scope, opts: { withHierarchy: boolean; only?: string }): Promise<CallerGroup[]> {
  const t = scope.tenantId;
  const rows = await scope.db.all<Record<string, unknown>>(sql`
    WITH RECURSIVE
      mine(id, role) AS (SELECT group_id, role FROM live_memberships WHERE tenant_id = ${t} AND user_id = ${scope.actor}),
      up(id) AS (
        SELECT e.parent_id FROM mine x CROSS JOIN group_edges e ON e.tenant_id = ${t} AND e.child_id = x.id
        UNION SELECT e.parent_id FROM up u CROSS JOIN group_edges e ON e.tenant_id = ${t} AND e.child_id = u.id
      ),
      down(id) AS (
        SELECT e.child_id FROM mine x CROSS JOIN group_edges e ON e.tenant_id = ${t} AND e.parent_id = x.id
        UNION SELECT e.child_id FROM down d CROSS JOIN group_edges e ON e.tenant_id = ${t} AND e.parent_id = d.id
      ),
      reached(id) AS (
        SELECT id FROM mine UNION SELECT id FROM up WHERE ${opts.withHierarchy ? 1 : 0} UNION SELECT id FROM down WHERE ${opts.withHierarchy ? 1 : 0}
      )
    SELECT g.*, (SELECT role FROM mine WHERE id = g.id) AS caller_role,
      (EXISTS (SELECT 1 FROM mine WHERE id = g.id)) + (EXISTS (SELECT 1 FROM up WHERE id = g.id)) + (EXISTS (SELECT 1 FROM down WHERE id = g.id)) AS routes,
      EXISTS (SELECT 1 FROM up WHERE id = g.id) AS above
    FROM reached r CROSS JOIN groups g ON g.tenant_id = ${t} AND g.id = r.id
    WHERE ${opts.only ?? null} IS NULL OR g.id = ${opts.only ?? null}
    ORDER BY g.name_key`);
  const counts = await hierarchyCounts(
    scope,
    rows.map((r) => r.id as string),
  );
  const admin = scope.principal?.scopes.has("admin") ?? false;
  return rows.map((r) => {
    const callerRole: CallerRole = r.caller_role === "admin" ? "Admin" : r.caller_role ? "Member" : r.above ? "Member" : "None";
    return {
      group: rowOf(groups, r),
      callerRole,
      reachedTwice: (r.routes as number) > 1,
      counts: counts.get(r.id as string)!,
      editable: callerRole === "Admin" || admin,
      detailsReadable: callerRole !== "None" || admin,
    };
  });
}

export interface GroupDetails {
  /** Direct members who belong to no other group of the tenant. */
  uniqueUserCount: number;
  /** Members with a bare profile (no name, no email): made from a number, not yet provisioned. */
  currentLevelUnProvisionedUserCount: number;
  unProvisionedUserCount: number;
}

/** The detail figures for many groups in one query. */
export async function groupDetails(scope: Scope, groupIds: string[]): Promise<Map<string, GroupDetails>> {
  const t = scope.tenantId;
  const ids = json(groupIds);
  const rows = await scope.db.all<{ id: string; unique_users: number; unprov_direct: number; unprov_all: number }>(sql`
    WITH RECURSIVE ${subtreesCte(t, ids)},
    unprovisioned AS (
      SELECT s.root, count(DISTINCT m.user_id) AS n FROM sub s
        CROSS JOIN live_memberships m ON m.tenant_id = ${t} AND m.group_id = s.id
        CROSS JOIN users u ON u.tenant_id = ${t} AND u.id = m.user_id
      WHERE u.name IS NULL AND u.email IS NULL GROUP BY s.root
    )
    SELECT j.value AS id,
      (SELECT count(*) FROM live_memberships m WHERE m.tenant_id = ${t} AND m.group_id = j.value AND NOT EXISTS
        (SELECT 1 FROM live_memberships o WHERE o.tenant_id = ${t} AND o.user_id = m.user_id AND o.group_id != j.value)) AS unique_users,
      (SELECT count(*) FROM live_memberships m CROSS JOIN users u ON u.tenant_id = ${t} AND u.id = m.user_id
        WHERE m.tenant_id = ${t} AND m.group_id = j.value AND u.name IS NULL AND u.email IS NULL) AS unprov_direct,
      coalesce(p.n, 0) AS unprov_all
    FROM json_each(${ids}) j LEFT JOIN unprovisioned p ON p.root = j.value`);
  return new Map(
    rows.map((r) => [
      r.id,
      { uniqueUserCount: r.unique_users, currentLevelUnProvisionedUserCount: r.unprov_direct, unProvisionedUserCount: r.unprov_all },
    ]),
  );
}
