import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import { type EventQuery, type EventType, listEvents } from "../../core/events";
import { SCOPES } from "../../core/shared/scopes";
import type { NativeApp } from "./app";
import { auditQuery, eventPage, eventQuery } from "./event-schemas";
import { errors, ok } from "./openapi-helpers";
import { errorBody } from "./schemas";

/** The paging and type filter both routes share. */
const pageOf = (q: { after?: string; limit: number; types?: EventType[] }): EventQuery => ({
  after: q.after === undefined ? undefined : Number(q.after),
  limit: q.limit,
  types: q.types,
});

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
      const { group_id, user_id, ...q } = c.req.valid("query");
      return c.json(await listEvents(c.var.scope, { ...pageOf(q), groupId: group_id, userId: user_id }), 200);
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
      const { type, ...q } = c.req.valid("query");
      return c.json(await listEvents(c.var.scope, { ...pageOf(q), types: type, actor: q.actor, since: q.since, until: q.until }), 200);
    },
  );
}
