import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { authenticate } from "../../auth/middleware";
import { assertJsonDepth } from "../../core/shared/validation";
import type { AppEnv } from "../../http/app-env";
import { errorHeaders } from "../../http/conditional";
import { asCoreError, invalidInput } from "../../http/errors";
import { idempotency } from "../../http/idempotency";
import { limitBody } from "../../http/middleware";
import { unknownRoute } from "../../http/unknown-route";

/** The native surface's error format: {"error": {"code", "message", "details"}}. */
export function nativeError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    return c.json({ error: { code: "internal", message: "internal error", details: [] } }, 500);
  }
  return c.json({ error: { code: e.kind, message: e.message, details: e.details } }, e.status, errorHeaders(e));
}

export function nativeApp() {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidInput(result.error, result.target === "json" ? "request body" : result.target);
      if (result.target === "json") assertJsonDepth(result.data);
    },
  });
  app.use("*", limitBody(), authenticate(), idempotency);
  app.onError((err, c) => nativeError(c, err));
  return app;
}

/** Registered after every route: a mounted sub-app's notFound is not used by Hono, so unknown paths need a route of their own. */
export function rejectUnknownRoutes(app: ReturnType<typeof nativeApp>) {
  app.all("*", (c) => {
    throw unknownRoute(app, c, `no route ${c.req.method} ${c.req.path}`);
  });
}

export type NativeApp = ReturnType<typeof nativeApp>;
