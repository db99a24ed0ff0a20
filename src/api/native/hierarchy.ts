import { createRoute, z } from "@hono/zod-openapi";
import * as hierarchy from "../../core/hierarchy";
import type { NativeApp } from "./app";
import { bodyErrors, errors, json, ok, read, write } from "./openapi-helpers";
import * as s from "./schemas";
import { groupOut } from "./shape";

export function registerHierarchyRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/groups/{group_id}/children",
      tags: ["hierarchy"],
      middleware: [write] as const,
      description: "Links 1-1,000 groups below this one. A link that would make a cycle is 409 naming the path; past the depth limit, 422.",
      request: { params: s.groupIdParam, body: json(s.groupIdsBody) },
      responses: {
        200: ok(s.result(s.linkResult), "What changed"),
        409: ok(s.errorBody, "Would make a cycle"),
        422: ok(s.errorBody, "Too deep"),
        ...bodyErrors,
      },
    }),
    async (c) => {
      const { linked, already_linked } = await hierarchy.linkChildren(
        c.var.scope,
        c.req.valid("param").group_id,
        c.req.valid("json").group_ids,
      );
      return c.json({ result: { linked, already_linked } }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/groups/{group_id}/children",
      tags: ["hierarchy"],
      middleware: [write] as const,
      request: { params: s.groupIdParam, body: json(s.groupIdsBody) },
      responses: { 200: ok(s.result(s.unlinkResult), "What changed"), ...bodyErrors },
    }),
    async (c) => {
      const { unlinked, not_linked } = await hierarchy.unlinkChildren(
        c.var.scope,
        c.req.valid("param").group_id,
        c.req.valid("json").group_ids,
      );
      return c.json({ result: { unlinked, not_linked } }, 200);
    },
  );

  for (const direction of ["children", "parents"] as const) {
    app.openapi(
      createRoute({
        method: "get",
        path: `/groups/{group_id}/${direction}`,
        tags: ["hierarchy"],
        middleware: [read] as const,
        description: `The group's direct ${direction}, in name order.`,
        request: { params: s.groupIdParam },
        responses: { 200: ok(s.result(z.array(s.group)), `The ${direction}`), ...errors },
      }),
      async (c) =>
        c.json(
          { result: (await hierarchy.neighbours(c.var.scope, c.req.valid("param").group_id, direction)).map((g) => groupOut(g)) },
          200,
        ),
    );
  }
}
