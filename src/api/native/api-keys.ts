import { createRoute, z } from "@hono/zod-openapi";
import { forgetApiKey } from "../../auth/api-key";
import { requireScope } from "../../auth/middleware";
import * as core from "../../core/keys";
import { SCOPES } from "../../core/shared/scopes";
import * as k from "./api-key-schemas";
import type { NativeApp } from "./app";
import { bodyErrors, errors, json, ok } from "./openapi-helpers";
import * as s from "./schemas";
import { apiKeyOut } from "./shape";

const admin = requireScope(SCOPES.admin);

export function registerApiKeyRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/api-keys",
      tags: ["api keys"],
      middleware: [admin] as const,
      description:
        "Creates a key of this tenant. The secret is in this answer only. Needs scope admin; a key gets no scope its creator lacks.",
      request: { body: json(k.createKeyBody) },
      responses: { 201: ok(s.result(k.createdKey), "The key, with its secret"), 422: ok(s.errorBody, "Too many keys"), ...bodyErrors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const { key, secret } = await core.createApiKey(c.var.scope, {
        name: b.name,
        scopes: b.scopes,
        expiresAt: b.expires_at && b.expires_at * 1000,
      });
      return c.json({ result: { ...apiKeyOut(key), secret } }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api-keys",
      tags: ["api keys"],
      middleware: [admin] as const,
      responses: { 200: ok(s.result(z.array(k.apiKey)), "The tenant's keys, newest first, without secrets"), ...errors },
    }),
    async (c) => c.json({ result: (await core.listApiKeys(c.var.scope)).map(apiKeyOut) }, 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api-keys/{key_id}",
      tags: ["api keys"],
      middleware: [admin] as const,
      description: "Revokes the key: refused at once by this isolate, and everywhere within 30 seconds.",
      request: { params: k.keyIdParam },
      responses: { 200: ok(s.result(k.apiKey), "The revoked key"), ...errors },
    }),
    async (c) => {
      const key = await core.revokeApiKey(c.var.scope, c.req.valid("param").key_id);
      forgetApiKey(key.secretHash);
      return c.json({ result: apiKeyOut(key) }, 200);
    },
  );
}
