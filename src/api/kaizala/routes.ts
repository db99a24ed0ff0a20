// The conversation-groups API of seed 004 at /kaizala/v1/groups (its {endpoint-url} is <base>/kaizala).
import { type Context, Hono } from "hono";
import { z } from "zod";
import { authenticate, bearerToken, requireScope, type TokenSource } from "../../auth/middleware";
import * as core from "../../core/conversation-groups";
import { notFound } from "../../core/shared/errors";
import { SCOPES } from "../../core/shared/scopes";
import { groupNameSchema, idSchema, welcomeMessageSchema } from "../../core/shared/validation";
import type { AppEnv } from "../../http/app-env";
import { ifNoneMatch, tag, viewTag } from "../../http/conditional";
import { asCoreError } from "../../http/errors";
import { idempotency } from "../../http/idempotency";
import { limitBody } from "../../http/middleware";
import { unknownRoute } from "../../http/unknown-route";
import { valid } from "../../http/validate";
import { groupOut } from "./shape";

function kaizalaError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    return c.json({ errorCode: "internal", message: "internal error", details: [] }, 500);
  }
  return c.json({ errorCode: e.kind, message: e.message, details: e.details }, e.status);
}

/** The seed's accessToken header, or a standard Bearer header. */
const accessToken: TokenSource = (c) => c.req.header("accesstoken")?.trim() || bearerToken(c);

export const createBody = z
  .object({
    name: groupNameSchema,
    welcomeMessage: welcomeMessageSchema.min(1, "is required"),
    // Each number is checked in core: invalid ones are reported, the valid ones still added.
    members: z.array(z.string().max(32)).max(1_000, "must list at most 1,000 numbers").optional(),
    groupType: z.enum(["Group", "ConnectGroup"], { message: "must be Group or ConnectGroup" }).optional(),
  })
  .strict();

const flag = z
  .enum(["true", "false", "True", "False"])
  .optional()
  .transform((v) => v?.toLowerCase() === "true");
export const listQuery = z.object({ showDetail: flag, fetchAllGroups: flag });

export function kaizalaRoutes() {
  const app = new Hono<AppEnv>();
  app.use("*", limitBody(), authenticate({ source: accessToken }), idempotency);
  app.onError((err, c) => kaizalaError(c, err));

  app.post("/v1/groups", requireScope(SCOPES.write), valid("json", createBody), async (c) => {
    const b = c.req.valid("json");
    const r = await core.createConversationGroup(c.var.scope, {
      name: b.name,
      welcomeMessage: b.welcomeMessage,
      members: b.members ?? [],
      type: b.groupType ?? "Group",
    });
    return c.json({ groupName: r.group.name, groupId: r.group.id, membersAdded: r.membersAdded, invalidMembers: r.invalidMembers });
  });

  app.get("/v1/groups", requireScope(SCOPES.read), valid("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const found = await core.callerGroups(c.var.scope, { withHierarchy: q.fetchAllGroups });
    const details = q.showDetail
      ? await core.groupDetails(
          c.var.scope,
          found.map((g) => g.group.id),
        )
      : undefined;
    return c.json({ groups: found.map((g) => groupOut(g, details?.get(g.group.id))) });
  });

  app.get(
    "/v1/groups/:groupId",
    requireScope(SCOPES.read),
    ifNoneMatch,
    viewTag,
    valid("param", z.object({ groupId: idSchema })),
    valid("query", listQuery),
    async (c) => {
      const id = c.req.valid("param").groupId;
      // A group the caller may see: theirs, or one above or below theirs.
      const [found] = await core.callerGroups(c.var.scope, { withHierarchy: true, only: id });
      if (!found) throw notFound("group", id);
      const details = c.req.valid("query").showDetail ? await core.groupDetails(c.var.scope, [id]) : undefined;
      tag(c, found.group.version);
      return c.json({ groups: [groupOut(found, details?.get(id))] });
    },
  );

  app.all("*", (c) => {
    throw unknownRoute(app, c, `route '${c.req.method} ${c.req.path}' was not found`);
  });
  return app;
}
