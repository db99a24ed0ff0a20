// Wire schemas of the native membership-rules API.
import { z } from "@hono/zod-openapi";
import { RULE_ATTRIBUTE_NAMES, RULE_LIMITS } from "../../core/rules";
import * as s from "./schemas";

const expression = z
  .string()
  .min(1, "must not be empty")
  .max(RULE_LIMITS.expressionLength)
  .openapi({
    description: `a SCIM filter (RFC 7644 §3.4.2.2) over ${RULE_ATTRIBUTE_NAMES.join(", ")}`,
    example: 'email ew "@acme.com" and custom_data.department eq "Sales"',
  });

export const previewBody = z
  .object({
    expression,
    limit: z.number().int().min(1).max(RULE_LIMITS.previewUsers).default(RULE_LIMITS.defaultPreviewUsers),
  })
  .strict()
  .openapi("RulePreviewRequest");

export const preview = z
  .object({ matched: z.number().int().openapi({ description: "how many of the tenant's users match" }), users: z.array(s.user) })
  .openapi("RulePreview");

export const ruleBody = z
  .object({
    expression,
    paused: z
      .boolean()
      .default(false)
      .openapi({ description: "a paused rule keeps its members as they are and follows no profile change" }),
  })
  .strict()
  .openapi("RuleRequest");

export const reconciled = z
  .object({
    added: z.number().int().openapi({ description: "users the rule made members" }),
    removed: z.number().int().openapi({ description: "users who left: the rule no longer selects them and no other source holds them" }),
    skipped: z
      .array(z.string())
      .openapi({ description: "selected users left out: already in as many groups as the tenant allows (the first 100)" }),
  })
  .openapi("RuleReconciled");

export const rule = z
  .object({
    group_id: z.string(),
    expression: z.string(),
    paused: z.boolean(),
    created_by: z.string(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("MembershipRule");

export const savedRule = rule.extend({ reconciled }).openapi("SavedMembershipRule");
