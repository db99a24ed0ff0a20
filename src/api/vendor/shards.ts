// The operator's calls on tenants' placement (vendor tokens only, never a tenant's credential):
// where a tenant lives, placing a new tenant, and moving one to another shard online.
import { Hono } from "hono";
import { z } from "zod";
import { authenticateVendor } from "../../auth/middleware";
import { cancelMove, describeShards, moveTenant, placementOf, placeTenant } from "../../core/shards";
import { ID_PATTERN } from "../../core/shared/ids";
import type { AppEnv } from "../../http/app-env";
import { limitBody } from "../../http/middleware";
import { unknownRoute } from "../../http/unknown-route";
import { valid } from "../../http/validate";
import { nativeError } from "../native/app";

const tenantParam = z.object({ tenant: z.string().regex(ID_PATTERN, "is not a valid tenant id") });
export const shardBody = z.object({ shard: z.string().min(1).max(64) }).strict();
export const moveBody = z.object({ to: z.string().min(1).max(64) }).strict();

export function vendorRoutes() {
  const app = new Hono<AppEnv>();
  app.use("*", limitBody(), authenticateVendor);
  app.onError((err, c) => nativeError(c, err));
  app.get("/shards", async (c) => c.json({ result: await describeShards(c.env) }));
  app.get("/tenants/:tenant/placement", valid("param", tenantParam), async (c) =>
    c.json(await placementOf(c.env, c.req.valid("param").tenant)),
  );
  app.put("/tenants/:tenant/placement", valid("param", tenantParam), valid("json", shardBody), async (c) => {
    const placed = await placeTenant(c.env, c.req.valid("param").tenant, c.req.valid("json").shard, c.var.vendor!);
    return c.json(placed.placement, placed.created ? 201 : 200);
  });
  // Starts the move (or continues the one running) and takes it as far as one request may: 200 when done, 202 with Retry-After while not.
  app.post("/tenants/:tenant/move", valid("param", tenantParam), valid("json", moveBody), async (c) => {
    const move = await moveTenant(c.env, c.req.valid("param").tenant, c.req.valid("json").to, c.var.vendor!);
    if (move.state !== "done") c.header("Retry-After", "1");
    return c.json(move, move.state === "done" ? 200 : 202);
  });
  app.delete("/tenants/:tenant/move", valid("param", tenantParam), async (c) =>
    c.json(await cancelMove(c.env, c.req.valid("param").tenant)),
  );
  app.all("*", (c) => {
    throw unknownRoute(app, c, `no route ${c.req.method} ${c.req.path}`);
  });
  return app;
}
