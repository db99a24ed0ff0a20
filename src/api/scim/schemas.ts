// Wire schemas of the SCIM surface: list queries, resources and PatchOp bodies.
import type { ValidationTargets } from "hono";
import { z } from "zod";
import { groupNameSchema } from "../../core/shared/validation";
import { valid as validate } from "../../http/validate";
import { SCIM } from "./app";

/** Validation failures carry SCIM's scimType: invalidValue for bodies, invalidSyntax for the rest. */
export const valid = <T extends z.ZodType, K extends keyof ValidationTargets>(target: K, schema: T) =>
  validate(target, schema, (t) => ({ scimType: t === "json" ? "invalidValue" : "invalidSyntax" }));

export const listQuery = z.object({
  filter: z.string().max(4_000).optional(),
  startIndex: z.coerce
    .number()
    .int()
    .catch(1)
    .default(1)
    .transform((n) => Math.max(1, n)),
  count: z.coerce
    .number()
    .int()
    .catch(100)
    .default(100)
    .transform((n) => Math.min(Math.max(0, n), 1_000)),
  attributes: z.string().max(2_000).optional(),
  excludedAttributes: z.string().max(2_000).optional(),
});

export const projectionQuery = listQuery.pick({ attributes: true, excludedAttributes: true });

export const idParam = z.object({ id: z.string().min(1).max(128) });

export const externalIdSchema = z.string({ message: "must be a string" }).max(256, "must be at most 256 characters");

/** A singular string attribute of RFC 7643's User (null is "unassigned", §2.5). */
const text = z.string().max(256).nullish();
const textAttributes = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, text]));

export const userBody = z.looseObject({
  userName: z.string({ message: "userName is required" }).trim().min(1, "userName is required").max(256),
  externalId: externalIdSchema.optional(),
  displayName: z.string().max(256).optional(),
  active: z.union([z.boolean(), z.enum(["True", "False", "true", "false"])]).optional(),
  name: z
    .looseObject(textAttributes(["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"]))
    .optional(),
  ...textAttributes(["nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone"]),
  [SCIM.enterprise]: z
    .looseObject({
      ...textAttributes(["employeeNumber", "costCenter", "organization", "division", "department"]),
      manager: z.union([z.looseObject({ value: text }), z.string().max(256)]).nullish(),
    })
    .optional(),
  emails: z
    .array(z.looseObject({ value: z.string().max(320).optional() }))
    .max(20)
    .optional(),
  phoneNumbers: z
    .array(z.looseObject({ value: z.string().max(64).optional() }))
    .max(20)
    .optional(),
});

/** A member as identity providers send it: {value, display} (also displayName), or a bare id. */
export const memberValue = z.union([
  z
    .string()
    .min(1)
    .max(128)
    .transform((value) => ({ value, display: undefined as string | undefined })),
  z
    .looseObject({
      value: z.string().min(1).max(128),
      display: z.string().max(256).optional(),
      displayName: z.string().max(256).optional(),
    })
    .transform((m) => ({ value: m.value, display: m.display ?? m.displayName })),
]);
export const memberList = z.union([
  z.array(memberValue).max(1_000, "at most 1,000 members per request"),
  memberValue.transform((m) => [m]),
]);

/** A group's displayName: the same rule as a group's name on every surface. */
export const groupDisplayName = z.string({ message: "must be a string" }).pipe(groupNameSchema);

export const groupBody = z.looseObject({
  displayName: z.string({ message: "displayName is required" }).pipe(groupNameSchema),
  externalId: externalIdSchema.optional(),
  members: memberList.optional(),
});

export const patchBody = z.looseObject({
  Operations: z
    .array(
      z.looseObject({
        op: z
          .string()
          .transform((s) => s.toLowerCase())
          .pipe(z.enum(["add", "remove", "replace"], { message: "op must be add, remove or replace" })),
        path: z.string().max(1_000).optional(),
        value: z.unknown().optional(),
      }),
    )
    .min(1, "Operations must hold at least one operation")
    .max(1_000),
});
export type PatchOperation = z.infer<typeof patchBody>["Operations"][number];
