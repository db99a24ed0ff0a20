import { createRoute, z } from "@hono/zod-openapi";
import * as core from "../../core/rules";
import type { NativeApp } from "./app";
import { errors, json, ok, write } from "./openapi-helpers";
import * as s from "./schemas";
import { userOut } from "./shape";

const previewBody = z
  .object({
    expression: z
      .string()
      .min(1, "must not be empty")
      .max(core.RULE_LIMITS.expressionLength)
      .openapi({
        description: `a SCIM filter over ${core.RULE_ATTRIBUTE_NAMES.join(", ")}`,
        example: 'email ew "@acme.com" and custom_data.department eq "Sales"',
      }),
    limit: z.number().int().min(1).max(core.RULE_LIMITS.previewUsers).default(core.RULE_LIMITS.defaultPreviewUsers),
  })
  .strict()
  .openapi("RulePreviewRequest");

const preview = z
  .object({ matched: z.number().int().openapi({ description: "how many of the tenant's users match" }), users: z.array(s.user) })
  .openapi("RulePreview");

export function registerRuleRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/rules/preview",
      tags: ["rules"],
      middleware: [write] as const,
      description:
        "Who a membership rule's expression selects among the tenant's users: how many, and the first ones by id. Changes nothing. Needs scope groups:write or admin.",
      request: { body: json(previewBody) },
      responses: { 200: ok(s.result(preview), "The matches"), ...errors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const found = await core.previewRule(c.var.scope, b.expression, b.limit);
      return c.json({ result: { matched: found.matched, users: found.users.map(userOut) } }, 200);
    },
  );
}
