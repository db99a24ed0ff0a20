// Okta token inline hook: Okta posts the token it is about to issue; we answer with
// patch commands that add the tenant's groups claim to the ID and access tokens.
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { tenantOfHookSecret } from "../../auth/hook-secret";
import { background } from "../../auth/middleware";
import { claimObject, readClaim } from "../../core/claims";
import { type Scope, tenantScope } from "../../core/shared/context";
import { CoreError } from "../../core/shared/errors";
import { findUserForHook } from "../../core/users";
import type { AppEnv } from "../../http/app-env";
import { asCoreError } from "../../http/errors";
import { limitBody } from "../../http/middleware";
import { postOnly } from "../../http/unknown-route";

export const hookRequest = z
  .object({
    eventType: z.string().optional(),
    data: z
      .object({
        context: z
          .object({
            user: z
              .object({
                id: z.string().min(1).max(128),
                profile: z
                  .object({ login: z.string().max(320).optional(), email: z.string().max(320).optional() })
                  .loose()
                  .optional(),
              })
              .loose(),
          })
          .loose(),
      })
      .loose(),
  })
  .loose();

const oktaError = (message: string) => ({ error: { errorSummary: message } });

type HookEnv = AppEnv & { Variables: { hookTenant: string } };

export function oktaHookRoutes() {
  const app = new Hono<HookEnv>();
  app.use("*", limitBody(256 * 1024));
  app.onError((err, c) => {
    const e = asCoreError(err);
    return c.json(oktaError(e?.message ?? "internal error"), e?.status ?? 500);
  });
  // The secret is checked before the body is read, so an unauthenticated caller learns nothing of the schema.
  app.use("*", async (c, next) => {
    c.set("hookTenant", await tenantOfHookSecret(c.env, c.req.header("authorization"), background(c)));
    await next();
  });
  app.post(
    "/token",
    zValidator("json", hookRequest, (result) => {
      if (!result.success)
        throw new CoreError(
          "invalid",
          `not an Okta token hook request: ${result.error.issues[0]?.path.join(".")} ${result.error.issues[0]?.message}`,
        );
    }),
    async (c) => {
      const tenantId = c.var.hookTenant;
      const scope: Scope = await tenantScope(c.env, tenantId, "okta-hook", c.var.sessions);
      const { id, profile } = c.req.valid("json").data.context.user;
      const userId = await findUserForHook(scope, id, profile?.login ?? profile?.email);
      const claims = userId
        ? claimObject(await readClaim(scope, userId), new URL(`/v1/users/${encodeURIComponent(userId)}/groups`, c.req.url).toString())
        : null;
      if (!claims) return c.json({ commands: [] });
      const ops = Object.entries(claims).map(([name, value]) => ({ op: "add", path: `/claims/${name}`, value }));
      return c.json({
        commands: [
          { type: "com.okta.identity.patch", value: ops },
          { type: "com.okta.access.patch", value: ops },
        ],
      });
    },
  );
  // Reached by every other method (the POST route above answers first), after the secret is checked.
  app.all("/token", (c) => {
    throw postOnly(c);
  });
  return app;
}
