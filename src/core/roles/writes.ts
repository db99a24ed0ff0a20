// Roles on a group. Run by the group's coordinator, so a role change is ordered with
// the member mutations whose permission (rule 2) depends on the group's roles.
import { sql } from "drizzle-orm";
import { auditStatement, type MutationMeta } from "../members/writes";
import { batch, type Db, returnedOf } from "../shared/context";
import { notFound } from "../shared/errors";
import { abortIf, isAborted } from "../shared/preconditions";
import { checkVersion } from "../shared/versions";
import { assertRolesExist, someRoleGoneSql } from "./reads";
import { type Authority, assertMayAssignRoles } from "./rules";

/** The group exists, at a version the request's If-Match names (checked in the coordinator's serial section). */
async function assertGroup(db: Db, m: MutationMeta) {
  const row = await db.get<{ version: number }>(sql`SELECT version FROM groups WHERE tenant_id = ${m.tenantId} AND id = ${m.groupId}`);
  if (!row) throw notFound("group", m.groupId);
  checkVersion(m.expect, row.version, `group '${m.groupId}'`);
}

const touchGroup = (m: MutationMeta, now: number) =>
  sql`UPDATE groups SET version = version + 1, updated_at = ${now} WHERE tenant_id = ${m.tenantId} AND id = ${m.groupId}`;

export async function assignGroupRoles(db: Db, m: MutationMeta, who: Authority, roleIds: string[]) {
  await assertGroup(db, m);
  await assertRolesExist(db, m.tenantId, roleIds);
  await assertMayAssignRoles(db, m.tenantId, who, roleIds);
  const now = Date.now();
  const ids = JSON.stringify(roleIds);
  const results = await batch(db, [
    // Checked again in the write: a role may be deleted (outside this coordinator) since it was read.
    abortIf(someRoleGoneSql(m.tenantId, roleIds)),
    sql`INSERT INTO group_roles (tenant_id, group_id, role_id, assigned_at)
        SELECT ${m.tenantId}, ${m.groupId}, j.value, ${now} FROM json_each(${ids}) j WHERE true ON CONFLICT DO NOTHING RETURNING 1`,
    touchGroup(m, now),
    auditStatement(m, "roles.assign", { role_ids: roleIds }, now),
  ]).catch(async (e) => {
    if (isAborted(e)) await assertRolesExist(db, m.tenantId, roleIds);
    throw e;
  });
  const assigned = returnedOf(results, 1);
  return { assigned, already_assigned: roleIds.length - assigned };
}

export async function removeGroupRoles(db: Db, m: MutationMeta, who: Authority, roleIds: string[]) {
  await assertGroup(db, m);
  await assertRolesExist(db, m.tenantId, roleIds);
  await assertMayAssignRoles(db, m.tenantId, who, roleIds);
  const now = Date.now();
  const results = await batch(db, [
    sql`DELETE FROM group_roles WHERE tenant_id = ${m.tenantId} AND group_id = ${m.groupId}
        AND role_id IN (SELECT value FROM json_each(${JSON.stringify(roleIds)})) RETURNING 1`,
    touchGroup(m, now),
    auditStatement(m, "roles.remove", { role_ids: roleIds }, now),
  ]);
  const removed = returnedOf(results, 0);
  return { removed, not_assigned: roleIds.length - removed };
}
