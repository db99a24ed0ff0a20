// Wire schemas of the seed-001 surface (camelCase, as that vendor's API reference has it).
import { z } from "zod";
import { settingsPatchSchema } from "../../core/config";
import { descriptionSchema, groupNameSchema, idSchema, JSON_DEPTH_MESSAGE, LIMITS, withinJsonDepth } from "../../core/shared/validation";

export { valid } from "../../http/validate";

const colorSchema = z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, "must be a CSS hex colour such as #3b82f6");

/** metadata travels as a JSON-encoded object in a string; it is the group's custom data in every other surface. */
const metadataSchema = z
  .string()
  .max(LIMITS.customDataBytes, `must be at most ${LIMITS.customDataBytes} characters`)
  .transform((text, ctx) => {
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === "object" && !Array.isArray(value)) {
        if (withinJsonDepth(value)) return value as Record<string, unknown>;
        ctx.addIssue({ code: "custom", message: JSON_DEPTH_MESSAGE });
        return z.NEVER;
      }
    } catch {
      // reported below
    }
    ctx.addIssue({ code: "custom", message: 'must be a JSON-encoded object, such as "{\\"region\\":\\"EMEA\\"}"' });
    return z.NEVER;
  });

export const createGroupBody = z
  .object({
    name: groupNameSchema,
    description: descriptionSchema.optional(),
    color: colorSchema.optional(),
    metadata: metadataSchema.optional(),
  })
  .strict();

export const updateGroupBody = createGroupBody.partial().strict();

export const idParam = z.object({ id: idSchema });
export const groupIdParam = z.object({ groupId: idSchema });

export const bulkGetBody = z
  .object({ groupsIds: z.array(idSchema).min(1, "must name at least one group").max(100, "must name at most 100 groups") })
  .strict();

export const roleIdsBody = z
  .object({ roleIds: z.array(idSchema).min(1, "must name at least one role").max(100, "must name at most 100 roles") })
  .strict();

export const userIdsBody = z
  .object({
    userIds: z.array(idSchema).min(1, "must name at least one user").max(LIMITS.idsPerCall, `must name at most ${LIMITS.idsPerCall} users`),
  })
  .strict();

export const configBody = z
  .object({
    enabled: z.boolean().optional(),
    rolesEnabled: z.boolean().optional(),
    maxMembersPerGroup: settingsPatchSchema.shape.maxMembersPerGroup,
    maxGroupsPerUser: settingsPatchSchema.shape.maxGroupsPerUser,
    maxHierarchyDepth: settingsPatchSchema.shape.maxHierarchyDepth,
    claim: settingsPatchSchema.shape.claim,
  })
  .strict();

const relations = z.enum(["roles", "users", "rolesAndUsers"]);

export const v2Query = z.object({
  _limit: z.coerce.number().int().min(1).max(200).default(50),
  _offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  _sortBy: z.enum(["name", "createdAt", "updatedAt", "id"]).default("name"),
  _order: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(["asc", "desc"]))
    .default("asc"),
  _groupsRelations: relations.optional(),
});

export const relationsOf = (r: z.infer<typeof relations> | undefined) => ({
  roles: r === "roles" || r === "rolesAndUsers",
  users: r === "users" || r === "rolesAndUsers",
});
export const ALL_RELATIONS = { roles: true, users: true };
