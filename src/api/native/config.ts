import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import { loadConfig, settingsPatchSchema, tenantSettingsSchema, updateSettings } from "../../core/config";
import { SCOPES } from "../../core/shared/scopes";
import { ifMatch, ifNoneMatch, tag } from "../../http/conditional";
import type { NativeApp } from "./app";
import { bodyErrors, conditionalRead, conditionalWrite, errors, json, ok, read } from "./openapi-helpers";
import { errorBody } from "./schemas";

const settings = tenantSettingsSchema.openapi("TenantSettings");
const patch = settingsPatchSchema.openapi("TenantSettingsPatch", { example: { claim: { name: "app_groups", values: "names" } } });

export function registerConfigRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/config",
      tags: ["config"],
      middleware: [read, ifNoneMatch] as const,
      responses: { 200: ok(z.object({ result: settings }), "The tenant's settings"), ...errors, ...conditionalRead },
    }),
    async (c) => {
      const config = await loadConfig(c.var.scope.db, c.var.scope.tenantId);
      tag(c, config.version);
      return c.json({ result: config.settings }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/config",
      tags: ["config"],
      middleware: [requireScope(SCOPES.admin), ifMatch] as const,
      description: "Changes the settings given (claim and rate-limit settings by key). Needs scope admin.",
      request: { body: json(patch) },
      responses: {
        200: ok(z.object({ result: settings }), "The settings after the change"),
        409: ok(errorBody, "Other changes kept landing first (eight times): send it again"),
        ...bodyErrors,
        ...conditionalWrite,
      },
    }),
    async (c) => {
      const config = await updateSettings(c.var.scope, c.req.valid("json"));
      tag(c, config.version);
      return c.json({ result: config.settings }, 200);
    },
  );
}
