// The seed-001 surface's plumbing: its error format {"errors": [...]}, auth with the
// tenant header (auth/tenant-choice.ts), and the tenant's "groups enabled" switch.
import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { authenticate } from "../../auth/middleware";
import { assertGroupsEnabled } from "../../core/config";
import type { AppEnv } from "../../http/app-env";
import { errorHeaders } from "../../http/conditional";
import { asCoreError } from "../../http/errors";
import { idempotency } from "../../http/idempotency";
import { limitBody } from "../../http/middleware";

export function fronteggError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    return c.json({ errors: ["internal error"] }, 500);
  }
  const details = e.details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
  return c.json({ errors: [e.message, ...details] }, e.status, errorHeaders(e));
}

/** Seed 001's header naming the tenant: only a vendor token may name another tenant than its own. */
export const TENANT_HEADER = "frontegg-tenant-id";

/** With groups disabled in the tenant's config, the group endpoints answer 403. */
export const groupsEnabled = createMiddleware<AppEnv>(async (c, next) => {
  await assertGroupsEnabled(c.var.scope);
  await next();
});

export function fronteggApp() {
  const app = new Hono<AppEnv>();
  app.use("*", limitBody(), authenticate({ tenantHeader: TENANT_HEADER }), idempotency);
  app.onError((err, c) => fronteggError(c, err));
  return app;
}
