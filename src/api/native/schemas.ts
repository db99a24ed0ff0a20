// Wire schemas of the native API (seed 000): snake_case, responses wrapped in
// {"result": ...}, times in epoch seconds. They drive validation and /openapi.json.

import { z } from "@hono/zod-openapi";
import { MEMBERSHIP_SOURCES } from "../../core/members/sources";
import {
  customDataSchema,
  descriptionSchema,
  emailSchema,
  groupNameSchema,
  idListSchema,
  idSchema,
  memberRoleSchema,
  phoneSchema,
  welcomeMessageSchema,
} from "../../core/shared/validation";

export const groupIdParam = z.object({
  group_id: idSchema.openapi({ param: { name: "group_id", in: "path" }, example: "4be2eff2574323ce" }),
});
export const userIdParam = z.object({
  user_id: idSchema.openapi({ param: { name: "user_id", in: "path" }, example: "alice" }),
});
export const groupUserParams = groupIdParam.extend(userIdParam.shape);

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "1-200, default 50" }),
  cursor: z.string().max(1024).optional().openapi({ description: "next_cursor of the previous page" }),
});
export const memberListQuery = pageQuery.extend({
  search: z.string().max(200).optional().openapi({ description: "case-insensitive prefix of the user id, email or name" }),
});
export const userListQuery = pageQuery.extend({
  email: emailSchema.optional().openapi({ description: "only the user with this email address (any case)" }),
});
export const groupListQuery = pageQuery.extend({
  search: z.string().max(200).optional().openapi({ description: "name prefix, case-insensitive" }),
});

const typeSchema = z.string().trim().min(1).max(64);

export const createGroupBody = z
  .object({
    name: groupNameSchema,
    description: descriptionSchema.optional(),
    type: typeSchema.optional(),
    custom_data: customDataSchema.optional(),
    welcome_message: welcomeMessageSchema.optional(),
  })
  .strict()
  .openapi("CreateGroup", {
    example: { name: "FC Barcelona fans", description: "FC Barcelona fans across EMEA", custom_data: { key: "value" } },
  });

export const updateGroupBody = z
  .object({
    name: groupNameSchema.optional(),
    description: descriptionSchema.optional(),
    type: typeSchema.optional(),
    custom_data: customDataSchema.optional(),
    welcome_message: welcomeMessageSchema.nullable().optional(),
  })
  .strict()
  .openapi("UpdateGroup");

const expiresAtInput = z.number().int("must be whole epoch seconds").positive();

export const memberIdsBody = z
  .object({
    user_ids: idListSchema.optional(),
    emails: z.array(emailSchema).max(1_000).optional().openapi({ description: "members named by email (each must be a user's)" }),
    phone_numbers: z
      .array(phoneSchema)
      .max(1_000)
      .optional()
      .openapi({ description: "members named by E.164 phone number (each must be a user's)" }),
    role: memberRoleSchema.optional(),
    expires_at: expiresAtInput.optional().openapi({
      description:
        "when these users' direct membership ends (epoch seconds, ahead of now); absent: never for new members, as it is for others",
    }),
  })
  .strict()
  .refine((b) => (b.user_ids?.length ?? 0) + (b.emails?.length ?? 0) + (b.phone_numbers?.length ?? 0) > 0, {
    message: "name at least one member in user_ids, emails or phone_numbers",
    path: ["user_ids"],
  })
  .refine((b) => (b.user_ids?.length ?? 0) + (b.emails?.length ?? 0) + (b.phone_numbers?.length ?? 0) <= 1_000, {
    message: "at most 1,000 members per call",
    path: ["user_ids"],
  })
  .openapi("MemberIds", { example: { user_ids: ["alice", "bob"] } });

export const removeMemberIdsBody = z.object({ user_ids: idListSchema }).strict().openapi("RemoveMemberIds");

export const memberUpdateBody = z
  .object({
    role: memberRoleSchema.optional(),
    expires_at: expiresAtInput
      .nullable()
      .optional()
      .openapi({ description: "when the direct membership ends (epoch seconds); null: never" }),
  })
  .strict()
  .refine((b) => b.role !== undefined || b.expires_at !== undefined, { message: "name role or expires_at", path: ["role"] })
  .openapi("MemberUpdate");

const nullable = <T extends z.ZodType>(s: T) => s.nullable().optional();

export const userBody = z
  .object({
    email: nullable(emailSchema),
    phone_number: nullable(phoneSchema),
    name: nullable(z.string().max(200)),
    given_name: nullable(z.string().max(200)),
    family_name: nullable(z.string().max(200)),
    // An ID token's picture claim: a page shows it as an image, so only a web address.
    picture: nullable(z.url({ protocol: /^https?$/, message: "must be an http or https URL" }).max(2048)),
    custom_data: customDataSchema.optional(),
  })
  .strict()
  .openapi("UserProfile", { example: { email: "alice@example.com", name: "Alice" } });

export const group = z
  .object({
    group_id: z.string(),
    name: z.string(),
    description: z.string(),
    type: z.string(),
    custom_data: z.record(z.string(), z.unknown()),
    welcome_message: z.string().nullable().optional(),
    member_count: z.number().int().openapi({ description: "direct members" }),
    user_count: z
      .number()
      .int()
      .optional()
      .openapi({ description: "distinct users in the group or any group below it (on /v1/groups responses)" }),
    sub_group_count: z.number().int().optional(),
    parent_group_count: z.number().int().optional(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("Group");

export const user = z
  .object({
    user_id: z.string(),
    email: z.string().nullable(),
    phone_number: z.string().nullable(),
    name: z.string().nullable(),
    given_name: z.string().nullable(),
    family_name: z.string().nullable(),
    picture: z.string().nullable(),
    custom_data: z.record(z.string(), z.unknown()),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("User");

export const transitiveQuery = z.object({
  transitive: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .openapi({ description: "true: include users (or groups) held through the hierarchy, each once" }),
});

export const groupIdsBody = z
  .object({ group_ids: idListSchema })
  .strict()
  .openapi("GroupIds", { example: { group_ids: ["4be2eff2574323ce"] } });

const sources = z.array(z.enum(MEMBERSHIP_SOURCES)).openapi({
  description: "why the user is a member: each source that holds the membership (direct, scim, analytics, rule)",
});
const expiresAt = z.number().int().nullable().openapi({ description: "when the direct membership ends (epoch seconds); null: never" });
export const member = user.extend({ role: z.string(), added_at: z.number().int(), sources, expires_at: expiresAt }).openapi("Member");
export const heldGroup = group.extend({ role: z.string(), sources, expires_at: expiresAt }).openapi("UserGroup");
export const transitiveMember = user.extend({ direct: z.boolean(), sources }).openapi("TransitiveMember");
export const transitiveHeldGroup = group
  .extend({ role: z.string().nullable(), membership: z.enum(["direct", "inherited"]), sources })
  .openapi("TransitiveUserGroup");

export const errorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ field: z.string().optional(), message: z.string() })),
    }),
  })
  .openapi("Error");

export const result = <T extends z.ZodType>(schema: T) => z.object({ result: schema });
export const pageResult = <T extends z.ZodType>(schema: T) => z.object({ result: z.array(schema), next_cursor: z.string().nullable() });

export const linkResult = z.object({ linked: z.number().int(), already_linked: z.number().int() });
export const unlinkResult = z.object({ unlinked: z.number().int(), not_linked: z.number().int() });

export const addResult = z.object({ added: z.number().int(), already_members: z.number().int() });
export const replaceResult = z.object({ added: z.number().int(), removed: z.number().int(), member_count: z.number().int() });
export const stillMember = z
  .object({ user_id: z.string(), sources })
  .openapi("StillMember", { description: "a user this call's source no longer holds, who stays a member through the other sources" });
export const removeResult = z.object({ removed: z.number().int(), not_members: z.number().int(), still_members: z.array(stillMember) });

export const claimResult = z.record(z.string(), z.unknown()).openapi("Claim", { example: { groups: ["FC Barcelona fans"] } });

export const auditEntry = z
  .object({
    id: z.string(),
    at: z.number().int(),
    actor: z.string().nullable(),
    action: z.string(),
    seq: z.number().int().nullable(),
    detail: z.unknown(),
  })
  .openapi("AuditEntry");
