// The operator's calls on tenants' placement (vendor tokens only, never a tenant's credential):
// where a tenant lives, placing a new tenant, and moving one to another shard online.
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { verifyApiKey } from "../../auth/api-key";
import { background, bearerToken } from "../../auth/middleware";
import { verifyToken } from "../../auth/verify";
import { looksLikeApiKey } from "../../core/keys";
import { cancelMove, describeShards, moveTenant, placementOf, placeTenant } from "../../core/shards";
import { CoreError } from "../../core/shared/errors";
import { ID_PATTERN } from "../../core/shared/ids";
import type { AppEnv } from "../../http/app-env";
import { invalidInput } from "../../http/errors";
import { limitBody } from "../../http/middleware";
import { nativeError } from "../native/app";

const vendorOnly = createMiddleware<AppEnv>(async (c, next) => {
  const credential = bearerToken(c);
  if (!credential) throw new CoreError("unauthorized", "missing credential (Authorization: Bearer <vendor token>)");
  if (looksLikeApiKey(credential)) {
    // A tenant's credential, whatever its scopes: a known key is refused as one (an unknown one is 401).
    await verifyApiKey(c.env, credential, background(c));
    throw new CoreError("forbidden", "placement and moves of tenants are the operator's: an API key is a tenant's credential");
  }
  const verified = await verifyToken(c.env, credential);
  if (verified.kind !== "vendor")
    throw new CoreError("forbidden", "placement and moves of tenants are the operator's: a vendor token is required");
  if (!verified.scopes.has("admin")) throw new CoreError("forbidden", "the operator's routes need a vendor token with scope admin");
  c.set("vendor", `vendor:${verified.subject}`);
  await next();
});

const tenantParam = z.object({ tenant: z.string().regex(ID_PATTERN, "is not a valid tenant id") });
export const shardBody = z.object({ shard: z.string().min(1).max(64) }).strict();
export const moveBody = z.object({ to: z.string().min(1).max(64) }).strict();
const invalid = (where: string) => (r: { success: boolean; error?: unknown }) => {
  if (!r.success) throw invalidInput(r.error as Parameters<typeof invalidInput>[0], where);
};

export function vendorRoutes() {
  const app = new Hono<AppEnv>();
  app.use("*", limitBody(), vendorOnly);
  app.onError((err, c) => nativeError(c, err));
  app.get("/shards", async (c) => c.json({ result: await describeShards(c.env) }));
  app.get("/tenants/:tenant/placement", zValidator("param", tenantParam, invalid("path")), async (c) =>
    c.json(await placementOf(c.env, c.req.valid("param").tenant)),
  );
  app.put(
    "/tenants/:tenant/placement",
    zValidator("param", tenantParam, invalid("path")),
    zValidator("json", shardBody, invalid("request body")),
    async (c) => {
      const placed = await placeTenant(c.env, c.req.valid("param").tenant, c.req.valid("json").shard, c.var.vendor!);
      return c.json(placed.placement, placed.created ? 201 : 200);
    },
  );
  // Starts the move (or continues the one running) and takes it as far as one request may: 200 when done, 202 with Retry-After while not.
  app.post(
    "/tenants/:tenant/move",
    zValidator("param", tenantParam, invalid("path")),
    zValidator("json", moveBody, invalid("request body")),
    async (c) => {
      const move = await moveTenant(c.env, c.req.valid("param").tenant, c.req.valid("json").to, c.var.vendor!);
      if (move.state !== "done") c.header("Retry-After", "1");
      return c.json(move, move.state === "done" ? 200 : 202);
    },
  );
  app.delete("/tenants/:tenant/move", zValidator("param", tenantParam, invalid("path")), async (c) =>
    c.json(await cancelMove(c.env, c.req.valid("param").tenant)),
  );
  app.all("*", (c) => {
    throw new CoreError("not_found", `no route ${c.req.method} ${c.req.path}`);
  });
  return app;
}
