import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import { listEvents } from "../../core/events";
import { SCOPES } from "../../core/shared/scopes";
import type { NativeApp } from "./app";
import { auditQuery, eventPage, eventQuery } from "./event-schemas";
import { errors, ok } from "./openapi-helpers";
import { errorBody } from "./schemas";

export function registerEventRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/events",
      tags: ["events"],
      middleware: [requireScope(SCOPES.events)] as const,
      description:
        "The tenant's changes in the order they landed, from every surface: resume with after=next_cursor. Needs scope events:read or admin.",
      request: { query: eventQuery },
      responses: {
        200: ok(eventPage, "A page of events, oldest first"),
        ...errors,
        410: ok(
          errorBody,
          "after is older than the oldest event kept (the tenant's eventRetentionDays): resync, then resume from details[0].resume_after",
        ),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await listEvents(c.var.scope, {
        after: q.after === undefined ? undefined : Number(q.after),
        limit: q.limit,
        types: q.types,
        groupId: q.group_id,
        userId: q.user_id,
      });
      return c.json(page, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/audit",
      tags: ["events"],
      middleware: [requireScope(SCOPES.admin)] as const,
      description: "The audit trail: the same events as /v1/events, filtered by who made them and when. Needs scope admin.",
      request: { query: auditQuery },
      responses: {
        200: ok(eventPage, "A page of the trail, oldest first"),
        ...errors,
        410: ok(errorBody, "after is older than the oldest event kept: resume from details[0].resume_after"),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await listEvents(c.var.scope, {
        after: q.after === undefined ? undefined : Number(q.after),
        limit: q.limit,
        types: q.type,
        actor: q.actor,
        since: q.since,
        until: q.until,
      });
      return c.json(page, 200);
    },
  );
}
