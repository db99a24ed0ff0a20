// Wire schemas of the native roles API: roles with levels, and their holders.
import { z } from "@hono/zod-openapi";
import { displayNameSchema, idSchema } from "../../core/shared/validation";

export const roleIdParam = z.object({
  role_id: idSchema.openapi({ param: { name: "role_id", in: "path" }, example: "9f1c2e3d4b5a6978" }),
});

const roleKey = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1-64 letters, digits, '.', '_', ':' or '-'");
const roleName = displayNameSchema(200);
const roleLevel = z.number().int().min(0).max(1_000_000).openapi({ description: "0 is the most powerful; a lower level is a higher role" });

export const createRoleBody = z
  .object({ key: roleKey, name: roleName, description: z.string().max(2_000).optional(), level: roleLevel })
  .strict()
  .openapi("CreateRole", { example: { key: "editor", name: "Editor", level: 2 } });

export const updateRoleBody = createRoleBody.partial().strict().openapi("UpdateRole");

export const roleIdsBody = z
  .object({ role_ids: z.array(idSchema).min(1, "must name at least one role").max(100, "must name at most 100 roles") })
  .strict()
  .openapi("RoleIds", { example: { role_ids: ["9f1c2e3d4b5a6978"] } });

export const role = z
  .object({
    role_id: z.string(),
    key: z.string(),
    name: z.string(),
    description: z.string(),
    level: z.number().int(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("Role");

export const effectiveRole = role.extend({ direct: z.boolean(), via_groups: z.array(z.string()) }).openapi("EffectiveRole");

export const assignResult = z.object({ assigned: z.number().int(), already_assigned: z.number().int() });
export const unassignResult = z.object({ removed: z.number().int(), not_assigned: z.number().int() });
