// Per-tenant roles with levels (0 is the top), and who holds them: groups (through
// the group's coordinator) and users directly. A user's effective roles are their own
// plus those of every group they hold, inherited groups included.
import { sql } from "drizzle-orm";
import { callerOf, coordinatorOf, unwrap } from "../../coordinator/client";
import { roles } from "../../db/schema";
import { loadSettings } from "../config/reads";
import { assertGroupExists } from "../groups/reads";
import { heldGroupsCte } from "../hierarchy/held";
import { batch, changesOf, returnedOf, type Scope } from "../shared/context";
import { CoreError, isUniqueViolation, notFound } from "../shared/errors";
import { newId, uniqueIds } from "../shared/ids";
import { abortIf, isAborted, RACE_TRIES } from "../shared/preconditions";
import { checkVersion, staleVersion } from "../shared/versions";
import { assertRolesExist, type RoleRow, roleColumns, rolesOfGroups, someRoleGoneSql } from "./reads";
import { assertMayAssignRoles, authorityOf } from "./rules";

export type { RoleRow };

export interface RoleInput {
  key: string;
  name: string;
  description?: string;
  level: number;
}

const keyClash = (key: string) =>
  new CoreError("conflict", `a role with key '${key}' already exists`, [{ field: "key", message: "must be unique" }]);

export async function createRole(scope: Scope, input: RoleInput): Promise<RoleRow> {
  const now = Date.now();
  try {
    const row = await scope.db
      .insert(roles)
      .values({
        tenantId: scope.tenantId,
        id: newId(),
        key: input.key,
        name: input.name,
        description: input.description ?? "",
        level: input.level,
        createdAt: now,
        updatedAt: now,
      })
      .returning()
      .get();
    return strip(row);
  } catch (e) {
    if (isUniqueViolation(e)) throw keyClash(input.key);
    throw e;
  }
}

const strip = ({ tenantId: _t, ...r }: typeof roles.$inferSelect): RoleRow => r;

export async function listRoles(scope: Scope): Promise<RoleRow[]> {
  return scope.db.all<RoleRow>(sql`SELECT ${roleColumns} FROM roles r WHERE r.tenant_id = ${scope.tenantId} ORDER BY r.level, r.key`);
}

export async function getRole(scope: Scope, roleId: string): Promise<RoleRow> {
  const row = await scope.db.get<RoleRow>(
    sql`SELECT ${roleColumns} FROM roles r WHERE r.tenant_id = ${scope.tenantId} AND r.id = ${roleId}`,
  );
  if (!row) throw notFound("role", roleId);
  return row;
}

/** With If-Match, the role is written only at a version it names (scope.expect). */
const atExpectedVersion = (scope: Scope) =>
  scope.expect ? sql`version IN (SELECT value FROM json_each(${JSON.stringify(scope.expect)}))` : sql`true`;

export async function updateRole(scope: Scope, roleId: string, patch: Partial<RoleInput>): Promise<RoleRow> {
  const before = await getRole(scope, roleId);
  checkVersion(scope.expect, before.version, `role '${roleId}'`);
  // A change that changes nothing keeps the version.
  if ((Object.keys(patch) as (keyof RoleInput)[]).every((k) => patch[k] === undefined || patch[k] === before[k])) return before;
  try {
    const row = await scope.db.get<RoleRow>(
      sql`UPDATE roles SET
            key = coalesce(${patch.key ?? null}, key), name = coalesce(${patch.name ?? null}, name),
            description = coalesce(${patch.description ?? null}, description), level = coalesce(${patch.level ?? null}, level),
            updated_at = ${Date.now()}, version = version + 1
          WHERE tenant_id = ${scope.tenantId} AND id = ${roleId} AND ${atExpectedVersion(scope)}
          RETURNING id, key, name, description, level, created_at AS createdAt, updated_at AS updatedAt, version`,
    );
    if (!row) throw staleVersion(`role '${roleId}'`, (await getRole(scope, roleId)).version);
    return row;
  } catch (e) {
    if (isUniqueViolation(e)) throw keyClash(patch.key ?? "");
    throw e;
  }
}

/** Deleting a role takes it off every group and user that held it. */
export async function deleteRole(scope: Scope, roleId: string): Promise<void> {
  checkVersion(scope.expect, (await getRole(scope, roleId)).version, `role '${roleId}'`);
  const t = scope.tenantId;
  // Every statement holds only while the role is at a version If-Match names; the role's row goes last.
  const held = sql`EXISTS (SELECT 1 FROM roles WHERE tenant_id = ${t} AND id = ${roleId} AND ${atExpectedVersion(scope)})`;
  const results = await batch(scope.db, [
    sql`DELETE FROM group_roles WHERE tenant_id = ${t} AND role_id = ${roleId} AND ${held}`,
    sql`DELETE FROM user_roles WHERE tenant_id = ${t} AND role_id = ${roleId} AND ${held}`,
    sql`DELETE FROM roles WHERE tenant_id = ${t} AND id = ${roleId} AND ${atExpectedVersion(scope)}`,
  ]);
  if (changesOf(results, 2) === 0) throw staleVersion(`role '${roleId}'`, (await getRole(scope, roleId)).version);
}

async function assertRolesOnGroupsEnabled(scope: Scope) {
  if (!(await loadSettings(scope.db, scope.tenantId)).rolesOnGroupsEnabled) {
    throw new CoreError("forbidden", "roles on groups are disabled for this tenant (config rolesOnGroupsEnabled is false)");
  }
}

export async function assignGroupRoles(scope: Scope, groupId: string, roleIds: string[]) {
  await assertRolesOnGroupsEnabled(scope);
  return unwrap(coordinatorOf(scope, groupId).assignRoles(callerOf(scope, groupId), uniqueIds(roleIds)));
}

export async function removeGroupRoles(scope: Scope, groupId: string, roleIds: string[]) {
  await assertRolesOnGroupsEnabled(scope);
  return unwrap(coordinatorOf(scope, groupId).removeRoles(callerOf(scope, groupId), uniqueIds(roleIds)));
}

export async function groupRoles(scope: Scope, groupId: string): Promise<RoleRow[]> {
  await assertGroupExists(scope, groupId);
  return (await rolesOfGroups(scope.db, scope.tenantId, [groupId])).get(groupId)!;
}

async function assertUser(scope: Scope, userId: string) {
  const row = await scope.db.get(sql`SELECT 1 AS x FROM users WHERE tenant_id = ${scope.tenantId} AND id = ${userId}`);
  if (!row) throw notFound("user", userId);
}

export async function assignUserRoles(scope: Scope, userId: string, roleIds: string[]) {
  const ids = uniqueIds(roleIds);
  const t = scope.tenantId;
  for (let tries = 1; ; tries++) {
    await assertUser(scope, userId);
    await assertRolesExist(scope.db, t, ids);
    await assertMayAssignRoles(scope.db, t, authorityOf(scope.principal), ids);
    try {
      // Checked again at the end of the write (one transaction): a role given after its user's deletion would pass to
      // the next user of that id.
      const results = await batch(scope.db, [
        sql`INSERT INTO user_roles (tenant_id, user_id, role_id, assigned_at)
            SELECT ${t}, ${userId}, j.value, ${Date.now()} FROM json_each(${JSON.stringify(ids)}) j WHERE true ON CONFLICT DO NOTHING
            RETURNING 1`,
        abortIf(sql`NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = ${t} AND id = ${userId}) OR ${someRoleGoneSql(t, ids)}`),
      ]);
      const assigned = returnedOf(results, 0);
      return { assigned, already_assigned: ids.length - assigned };
    } catch (e) {
      // The user or a role went after the reads: the next reads answer 404, or (the user made again) give the roles to it.
      if (!isAborted(e)) throw e;
      if (tries === RACE_TRIES) {
        throw new CoreError(
          "unavailable",
          `user '${userId}' or its roles kept changing while the roles were given (${tries} times): send it again`,
        );
      }
    }
  }
}

export async function removeUserRoles(scope: Scope, userId: string, roleIds: string[]) {
  const ids = uniqueIds(roleIds);
  await assertUser(scope, userId);
  await assertRolesExist(scope.db, scope.tenantId, ids);
  await assertMayAssignRoles(scope.db, scope.tenantId, authorityOf(scope.principal), ids);
  const results = await batch(scope.db, [
    sql`DELETE FROM user_roles WHERE tenant_id = ${scope.tenantId} AND user_id = ${userId}
        AND role_id IN (SELECT value FROM json_each(${JSON.stringify(ids)})) RETURNING 1`,
  ]);
  const removed = returnedOf(results, 0);
  return { removed, not_assigned: ids.length - removed };
}

export interface EffectiveRole extends RoleRow {
  /** Held by the user directly, and/or through these groups. */
  direct: boolean;
  via_groups: string[];
}

/** Own roles plus those of every group the user holds, directly or through a parent group: one query. */
export async function effectiveRoles(scope: Scope, userId: string): Promise<EffectiveRole[]> {
  await assertUser(scope, userId);
  const t = scope.tenantId;
  const rows = await scope.db.all<RoleRow & { via: string | null }>(sql`
    WITH RECURSIVE ${heldGroupsCte(t, userId)},
    sources(role_id, via) AS (
      SELECT role_id, NULL FROM user_roles WHERE tenant_id = ${t} AND user_id = ${userId}
      UNION ALL
      SELECT gr.role_id, gr.group_id FROM held h CROSS JOIN group_roles gr ON gr.tenant_id = ${t} AND gr.group_id = h.group_id
    )
    SELECT s.via, ${roleColumns} FROM sources s CROSS JOIN roles r ON r.tenant_id = ${t} AND r.id = s.role_id
    ORDER BY r.level, r.key`);
  const byId = new Map<string, EffectiveRole>();
  for (const { via, ...role } of rows) {
    const e = byId.get(role.id) ?? { ...role, direct: false, via_groups: [] };
    if (via === null) e.direct = true;
    else e.via_groups.push(via);
    byId.set(role.id, e);
  }
  return [...byId.values()];
}
