import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import { loadSettings, settingsPatchSchema, tenantSettingsSchema, updateSettings } from "../../core/config";
import { SCOPES } from "../../core/shared/scopes";
import type { NativeApp } from "./app";
import { errors, json, ok, read } from "./openapi-helpers";

const settings = tenantSettingsSchema.openapi("TenantSettings");
const patch = settingsPatchSchema.openapi("TenantSettingsPatch", { example: { claim: { name: "app_groups", values: "names" } } });

export function registerConfigRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/config",
      tags: ["config"],
      middleware: [read] as const,
      responses: { 200: ok(z.object({ result: settings }), "The tenant's settings"), ...errors },
    }),
    async (c) => c.json({ result: await loadSettings(c.var.scope.db, c.var.scope.tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/config",
      tags: ["config"],
      middleware: [requireScope(SCOPES.admin)] as const,
      description: "Changes the settings given (claim settings by key). Needs scope admin.",
      request: { body: json(patch) },
      responses: { 200: ok(z.object({ result: settings }), "The settings after the change"), ...errors },
    }),
    async (c) => c.json({ result: await updateSettings(c.var.scope, c.req.valid("json")) }, 200),
  );
}
