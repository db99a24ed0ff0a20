import { sql } from "drizzle-orm";
import type { Db } from "../shared/context";
import { CoreError } from "../shared/errors";

export interface RoleRow {
  id: string;
  key: string;
  name: string;
  description: string;
  level: number;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export const roleColumns = sql`r.id, r.key, r.name, r.description, r.level, r.created_at AS createdAt, r.updated_at AS updatedAt, r.version`;

/** Unknown role ids (also another tenant's) are a 404 naming them, before anything changes. */
/** The ids among these that name no role of the tenant. */
const missingRoles = (tenantId: string, roleIds: string[]) =>
  sql`SELECT j.value FROM json_each(${JSON.stringify(roleIds)}) j
      WHERE NOT EXISTS (SELECT 1 FROM roles r WHERE r.tenant_id = ${tenantId} AND r.id = j.value)`;

/** For a batch that gives roles: true when one of them is gone (deleted since assertRolesExist read them). */
export const someRoleGoneSql = (tenantId: string, roleIds: string[]) => sql`EXISTS (${missingRoles(tenantId, roleIds)})`;

export async function assertRolesExist(db: Db, tenantId: string, roleIds: string[]) {
  const rows = await db.all<{ value: string }>(missingRoles(tenantId, roleIds));
  if (rows.length === 0) return;
  const missing = rows.map((r) => r.value);
  throw new CoreError(
    "not_found",
    `role${missing.length > 1 ? "s" : ""} ${missing
      .slice(0, 10)
      .map((id) => `'${id}'`)
      .join(", ")} ${missing.length > 1 ? "were" : "was"} not found`,
    missing.slice(0, 100).map((id) => ({ field: "role_ids", message: `unknown role '${id}'` })),
  );
}

/** The roles on each of these groups, one query for all of them. */
export async function rolesOfGroups(db: Db, tenantId: string, groupIds: string[]): Promise<Map<string, RoleRow[]>> {
  const out = new Map<string, RoleRow[]>(groupIds.map((g) => [g, []]));
  if (groupIds.length === 0) return out;
  const rows = await db.all<RoleRow & { group_id: string }>(
    sql`SELECT gr.group_id, ${roleColumns} FROM json_each(${JSON.stringify(groupIds)}) j
        CROSS JOIN group_roles gr ON gr.tenant_id = ${tenantId} AND gr.group_id = j.value
        CROSS JOIN roles r ON r.tenant_id = gr.tenant_id AND r.id = gr.role_id
        ORDER BY r.level, r.key`,
  );
  for (const { group_id, ...role } of rows) out.get(group_id)?.push(role);
  return out;
}
