import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import type { GroupRow } from "../../core/groups";
import * as core from "../../core/groups";
import { hierarchyCounts } from "../../core/hierarchy";
import type { Scope } from "../../core/shared/context";
import { SCOPES } from "../../core/shared/scopes";
import { ifMatch, ifNoneMatch, tag, viewTag } from "../../http/conditional";
import type { NativeApp } from "./app";
import { bodyErrors, conditionalRead, conditionalWrite, errors, json, ok, read, write } from "./openapi-helpers";
import * as s from "./schemas";
import { groupFieldsIn, groupOut } from "./shape";

const NEW_GROUP_COUNTS = { userCount: 0, subGroupCount: 0, parentGroupCount: 0 };

async function withCounts(scope: Scope, g: GroupRow) {
  return groupOut(g, (await hierarchyCounts(scope, [g.id])).get(g.id));
}

export function registerGroupRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/groups",
      tags: ["groups"],
      middleware: [write] as const,
      request: { body: json(s.createGroupBody) },
      responses: { 201: ok(s.result(s.group), "The created group"), 409: ok(s.errorBody, "Name clash"), ...bodyErrors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const g = await core.createGroup(c.var.scope, { ...groupFieldsIn(b), name: b.name });
      tag(c, g.version);
      return c.json({ result: groupOut(g, NEW_GROUP_COUNTS) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups",
      tags: ["groups"],
      middleware: [read] as const,
      request: { query: s.groupListQuery },
      responses: { 200: ok(s.pageResult(s.group), "A page of groups in name order"), ...errors },
    }),
    async (c) => {
      const page = await core.listGroups(c.var.scope, c.req.valid("query"));
      const counts = await hierarchyCounts(
        c.var.scope,
        page.items.map((g) => g.id),
      );
      return c.json({ result: page.items.map((g) => groupOut(g, counts.get(g.id))), next_cursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}",
      tags: ["groups"],
      middleware: [read, ifNoneMatch, viewTag] as const,
      description:
        "The group. Its ETag carries the group's version (for If-Match), which changes with every change to it and its members, and a digest of this answer (for If-None-Match: the counts change with the sub-groups too).",
      request: { params: s.groupIdParam },
      responses: { 200: ok(s.result(s.group), "The group"), ...errors, ...conditionalRead },
    }),
    async (c) => {
      const g = await core.getGroup(c.var.scope, c.req.valid("param").group_id);
      tag(c, g.version);
      return c.json({ result: await withCounts(c.var.scope, g) }, 200);
    },
  );

  for (const method of ["put", "patch"] as const) {
    app.openapi(
      createRoute({
        method,
        path: "/groups/{group_id}",
        tags: ["groups"],
        middleware: [write, ifMatch] as const,
        description: "Updates the fields given; custom_data is replaced, not merged.",
        request: { params: s.groupIdParam, body: json(s.updateGroupBody) },
        responses: {
          200: ok(s.result(s.group), "The updated group"),
          409: ok(s.errorBody, "Name clash"),
          ...bodyErrors,
          ...conditionalWrite,
        },
      }),
      async (c) => {
        const b = c.req.valid("json");
        const g = await core.updateGroup(c.var.scope, c.req.valid("param").group_id, groupFieldsIn(b));
        tag(c, g.version);
        return c.json({ result: await withCounts(c.var.scope, g) }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/traits",
      tags: ["groups"],
      middleware: [read] as const,
      description: "Traits set by analytics group calls: per key, the newest value by event time, and that time (epoch ms).",
      request: { params: s.groupIdParam },
      responses: {
        200: ok(s.result(z.record(z.string(), z.object({ value: z.unknown(), event_at: z.number().int() }))), "The traits"),
        ...errors,
      },
    }),
    async (c) => c.json({ result: await core.groupTraits(c.var.scope, c.req.valid("param").group_id) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/audit",
      tags: ["groups"],
      middleware: [requireScope(SCOPES.admin)] as const,
      description:
        "The group's change log (member, role, link and analytics changes) in the order its coordinator applied them. Needs scope admin.",
      request: { params: s.groupIdParam, query: s.pageQuery },
      responses: { 200: ok(s.pageResult(s.auditEntry), "A page of the log, oldest first"), ...errors },
    }),
    async (c) => {
      const page = await core.groupAudit(c.var.scope, c.req.valid("param").group_id, c.req.valid("query"));
      return c.json({ result: page.items, next_cursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/claims-status",
      tags: ["groups"],
      middleware: [requireScope(SCOPES.admin)] as const,
      description:
        "How many users still wait for the claims refresh this group's changes queued, or for any claim write of the tenant; 0 when every claim is current. Needs scope admin.",
      request: { params: s.groupIdParam },
      responses: { 200: ok(s.result(z.object({ pending_refreshes: z.number().int() })), "The queue"), ...errors },
    }),
    async (c) =>
      c.json({ result: { pending_refreshes: await core.pendingClaimRefreshes(c.var.scope, c.req.valid("param").group_id) } }, 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/groups/{group_id}",
      tags: ["groups"],
      middleware: [write, ifMatch] as const,
      request: { params: s.groupIdParam },
      responses: { 204: { description: "Deleted, with its memberships" }, ...errors, ...conditionalWrite },
    }),
    async (c) => {
      await core.deleteGroup(c.var.scope, c.req.valid("param").group_id);
      return c.body(null, 204);
    },
  );
}
