// After a request that changed something, hand the tenant's new events to its webhook
// outbox, after the answer is sent (waitUntil): a receiver never slows the change. If this
// dispatch never runs, the per-minute sweep does the same work.
import type { Context, MiddlewareHandler } from "hono";
import { dispatchAfterChange } from "../core/webhooks";
import type { AppEnv } from "./app-env";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Hono's c.executionCtx throws when the app runs without one. */
function executionContext(c: Context<AppEnv>) {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

export const dispatchWebhooks: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  const scope = c.var.scope;
  if (READS.has(c.req.method) || c.res.status >= 400 || !scope) return;
  const ctx = executionContext(c);
  if (!ctx) return; // the app called without a Worker's context (app.request): the sweep dispatches
  ctx.waitUntil(
    dispatchAfterChange(scope.db, c.env.WEBHOOKS, scope.tenantId).catch((e) =>
      console.error(JSON.stringify({ msg: "webhook dispatch failed; the sweep retries", tenant: scope.tenantId, error: String(e) })),
    ),
  );
};
