import { createRoute } from "@hono/zod-openapi";
import * as core from "../../core/groups";
import type { NativeApp } from "./app";
import { errors, json, ok, read, write } from "./openapi-helpers";
import * as s from "./schemas";
import { groupOut } from "./shape";

export function registerGroupRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post", path: "/groups", tags: ["groups"], middleware: [write] as const,
      request: { body: json(s.createGroupBody) },
      responses: { 201: ok(s.result(s.group), "The created group"), 409: ok(s.errorBody, "Name clash"), ...errors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const g = await core.createGroup(c.var.scope, { name: b.name, description: b.description, type: b.type, customData: b.custom_data });
      return c.json({ result: groupOut(g) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/groups", tags: ["groups"], middleware: [read] as const,
      request: { query: s.groupListQuery },
      responses: { 200: ok(s.pageResult(s.group), "A page of groups in name order"), ...errors },
    }),
    async (c) => {
      const page = await core.listGroups(c.var.scope, c.req.valid("query"));
      return c.json({ result: page.items.map(groupOut), next_cursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/groups/{group_id}", tags: ["groups"], middleware: [read] as const,
      request: { params: s.groupIdParam },
      responses: { 200: ok(s.result(s.group), "The group"), ...errors },
    }),
    async (c) => c.json({ result: groupOut(await core.getGroup(c.var.scope, c.req.valid("param").group_id)) }, 200),
  );

  for (const method of ["put", "patch"] as const) {
    app.openapi(
      createRoute({
        method, path: "/groups/{group_id}", tags: ["groups"], middleware: [write] as const,
        description: "Updates the fields given; custom_data is replaced, not merged.",
        request: { params: s.groupIdParam, body: json(s.updateGroupBody) },
        responses: { 200: ok(s.result(s.group), "The updated group"), 409: ok(s.errorBody, "Name clash"), ...errors },
      }),
      async (c) => {
        const b = c.req.valid("json");
        const g = await core.updateGroup(c.var.scope, c.req.valid("param").group_id, {
          name: b.name, description: b.description, type: b.type, customData: b.custom_data,
        });
        return c.json({ result: groupOut(g) }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "delete", path: "/groups/{group_id}", tags: ["groups"], middleware: [write] as const,
      request: { params: s.groupIdParam },
      responses: { 204: { description: "Deleted, with its memberships" }, ...errors },
    }),
    async (c) => {
      await core.deleteGroup(c.var.scope, c.req.valid("param").group_id);
      return c.body(null, 204);
    },
  );
}
