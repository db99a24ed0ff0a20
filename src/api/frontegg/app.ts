// The seed-001 surface's plumbing: its error format {"errors": [...]}, auth with the
// vendor-level tenant header, and the tenant's "groups enabled" switch.
import { Hono, type Context } from "hono";
import { createMiddleware } from "hono/factory";
import { authenticate } from "../../auth/middleware";
import { SCOPES } from "../../auth/scopes";
import { scopeFor } from "../../core/context";
import { assertGroupsEnabled } from "../../core/config";
import { CoreError } from "../../core/errors";
import { ID_PATTERN } from "../../core/ids";
import type { AppEnv } from "../../http/app-env";
import { asCoreError } from "../../http/errors";
import { limitBody } from "../../http/middleware";

export function fronteggError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    console.error("unhandled error", err);
    return c.json({ errors: ["internal error"] }, 500);
  }
  const details = e.details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
  return c.json({ errors: [e.message, ...details] }, e.status);
}

const TENANT_HEADER = "frontegg-tenant-id";

/**
 * A vendor-level token (scope admin) may act for any tenant named in the
 * frontegg-tenant-id header; any other token may only name its own tenant.
 */
const tenantFromHeader = createMiddleware<AppEnv>(async (c, next) => {
  const named = c.req.header(TENANT_HEADER);
  const principal = c.var.principal;
  if (named !== undefined && named !== principal.tenantId) {
    if (!principal.scopes.has(SCOPES.admin)) {
      throw new CoreError("forbidden", `only a vendor token (scope admin) may name another tenant in ${TENANT_HEADER}`);
    }
    if (!ID_PATTERN.test(named)) throw new CoreError("invalid", `${TENANT_HEADER} is not a valid tenant id`);
    const acting = { ...principal, tenantId: named };
    c.set("principal", acting);
    c.set("scope", scopeFor(c.env, acting));
  }
  await next();
});

/** With groups disabled in the tenant's config, the group endpoints answer 403. */
export const groupsEnabled = createMiddleware<AppEnv>(async (c, next) => {
  await assertGroupsEnabled(c.var.scope);
  await next();
});

export function fronteggApp() {
  const app = new Hono<AppEnv>();
  app.use("*", limitBody(), authenticate(), tenantFromHeader);
  app.onError((err, c) => fronteggError(c, err));
  return app;
}
