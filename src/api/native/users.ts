import { createRoute } from "@hono/zod-openapi";
import * as core from "../../core/users";
import { ifMatch, ifNoneMatch, tag } from "../../http/conditional";
import type { NativeApp } from "./app";
import { bodyErrors, conditionalRead, conditionalWrite, errors, json, ok, read, write } from "./openapi-helpers";
import * as s from "./schemas";
import { profileIn, userOut } from "./shape";

export function registerUserRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/users",
      tags: ["users"],
      middleware: [read] as const,
      description:
        "The tenant's users, whatever made them (this API, SCIM, analytics, a membership), paged in user-id order; with email, only the user who has that address.",
      request: { query: s.userListQuery },
      responses: { 200: ok(s.pageResult(s.user), "A page of users"), ...errors },
    }),
    async (c) => {
      const page = await core.listUsers(c.var.scope, c.req.valid("query"));
      return c.json({ result: page.items.map(userOut), next_cursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/users/{user_id}",
      tags: ["users"],
      middleware: [write, ifMatch] as const,
      description:
        "Creates the user, or replaces every profile field of an existing one. With If-Match, only the version it names is replaced.",
      request: { params: s.userIdParam, body: json(s.userBody) },
      responses: {
        200: ok(s.result(s.user), "Replaced"),
        201: ok(s.result(s.user), "Created"),
        409: ok(s.errorBody, "Email or phone number taken"),
        ...bodyErrors,
        ...conditionalWrite,
      },
    }),
    async (c) => {
      const { row, created } = await core.putUser(c.var.scope, c.req.valid("param").user_id, profileIn(c.req.valid("json")));
      tag(c, row.version);
      return created ? c.json({ result: userOut(row) }, 201) : c.json({ result: userOut(row) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/users/{user_id}",
      tags: ["users"],
      middleware: [read, ifNoneMatch] as const,
      request: { params: s.userIdParam },
      responses: { 200: ok(s.result(s.user), "The user"), ...errors, ...conditionalRead },
    }),
    async (c) => {
      const row = await core.getUser(c.var.scope, c.req.valid("param").user_id);
      tag(c, row.version);
      return c.json({ result: userOut(row) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/users/{user_id}",
      tags: ["users"],
      middleware: [write, ifMatch] as const,
      description: "Updates the fields given; custom_data is replaced, not merged.",
      request: { params: s.userIdParam, body: json(s.userBody) },
      responses: {
        200: ok(s.result(s.user), "Updated"),
        409: ok(s.errorBody, "Email or phone number taken"),
        ...bodyErrors,
        ...conditionalWrite,
      },
    }),
    async (c) => {
      const row = await core.patchUser(c.var.scope, c.req.valid("param").user_id, profileIn(c.req.valid("json")));
      tag(c, row.version);
      return c.json({ result: userOut(row) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/users/{user_id}",
      tags: ["users"],
      middleware: [write, ifMatch] as const,
      description: "Deletes the user and removes them from every group.",
      request: { params: s.userIdParam },
      responses: { 204: { description: "Deleted" }, ...errors, ...conditionalWrite },
    }),
    async (c) => {
      await core.deleteUser(c.var.scope, c.req.valid("param").user_id);
      return c.body(null, 204);
    },
  );
}
