import { createRoute } from "@hono/zod-openapi";
import * as core from "../../core/rules";
import type { NativeApp } from "./app";
import { bodyErrors, errors, json, ok, read, write } from "./openapi-helpers";
import * as r from "./rule-schemas";
import * as s from "./schemas";
import { ruleOut, userOut } from "./shape";

export function registerRuleRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/rules/preview",
      tags: ["rules"],
      middleware: [write] as const,
      description:
        "Who a membership rule's expression selects among the tenant's users: how many, and the first ones by id. Changes nothing. Needs scope groups:write or admin.",
      request: { body: json(r.previewBody) },
      responses: { 200: ok(s.result(r.preview), "The matches"), ...bodyErrors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const found = await core.previewRule(c.var.scope, b.expression, b.limit);
      return c.json({ result: { matched: found.matched, users: found.users.map(userOut) } }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/groups/{group_id}/rule",
      tags: ["rules"],
      middleware: [write] as const,
      description: `Sets the group's membership rule and, unless paused, reconciles it before answering: the users it selects hold the group with the "rule" source, the ones it no longer selects lose that source. At most ${core.RULE_LIMITS.rulesPerTenant} rules per tenant; 409 for a group an identity provider manages through SCIM.`,
      request: { params: s.groupIdParam, body: json(r.ruleBody) },
      responses: {
        200: ok(s.result(r.savedRule), "The rule, changed"),
        201: ok(s.result(r.savedRule), "The rule, new"),
        409: ok(s.errorBody, "The group's members are managed through SCIM"),
        422: ok(s.errorBody, "Over the rule or membership limits"),
        ...bodyErrors,
      },
    }),
    async (c) => {
      const saved = await core.putRule(c.var.scope, c.req.valid("param").group_id, c.req.valid("json"));
      return c.json({ result: { ...ruleOut(saved.rule), reconciled: saved.reconciled } }, saved.created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/rule",
      tags: ["rules"],
      middleware: [read] as const,
      request: { params: s.groupIdParam },
      responses: { 200: ok(s.result(r.rule), "The group's rule"), ...errors },
    }),
    async (c) => c.json({ result: ruleOut(await core.getRule(c.var.scope, c.req.valid("param").group_id)) }, 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/groups/{group_id}/rule",
      tags: ["rules"],
      middleware: [write] as const,
      description: "Drops the group's rule: the users only the rule held leave, the others keep their other sources.",
      request: { params: s.groupIdParam },
      responses: { 200: ok(s.result(r.reconciled), "What the rule's removal changed"), ...errors },
    }),
    async (c) => c.json({ result: await core.deleteRule(c.var.scope, c.req.valid("param").group_id) }, 200),
  );
}
