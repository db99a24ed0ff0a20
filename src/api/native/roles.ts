import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import * as core from "../../core/roles";
import { SCOPES } from "../../core/shared/scopes";
import { ifMatch, ifNoneMatch, tag } from "../../http/conditional";
import type { NativeApp } from "./app";
import { bodyErrors, conditionalRead, conditionalWrite, errors, json, ok, read, write } from "./openapi-helpers";
import * as r from "./role-schemas";
import * as s from "./schemas";
import { effectiveRoleOut, roleOut } from "./shape";

const admin = requireScope(SCOPES.admin);

export function registerRoleRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/roles",
      tags: ["roles"],
      middleware: [admin] as const,
      request: { body: json(r.createRoleBody) },
      responses: { 201: ok(s.result(r.role), "The created role"), 409: ok(s.errorBody, "Key clash"), ...bodyErrors },
    }),
    async (c) => {
      const role = await core.createRole(c.var.scope, c.req.valid("json"));
      tag(c, role.version);
      return c.json({ result: roleOut(role) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/roles",
      tags: ["roles"],
      middleware: [read] as const,
      responses: { 200: ok(s.result(z.array(r.role)), "The tenant's roles, highest first"), ...errors },
    }),
    async (c) => c.json({ result: (await core.listRoles(c.var.scope)).map(roleOut) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/roles/{role_id}",
      tags: ["roles"],
      middleware: [read, ifNoneMatch] as const,
      request: { params: r.roleIdParam },
      responses: { 200: ok(s.result(r.role), "The role"), ...errors, ...conditionalRead },
    }),
    async (c) => {
      const role = await core.getRole(c.var.scope, c.req.valid("param").role_id);
      tag(c, role.version);
      return c.json({ result: roleOut(role) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/roles/{role_id}",
      tags: ["roles"],
      middleware: [admin, ifMatch] as const,
      request: { params: r.roleIdParam, body: json(r.updateRoleBody) },
      responses: { 200: ok(s.result(r.role), "The updated role"), 409: ok(s.errorBody, "Key clash"), ...bodyErrors, ...conditionalWrite },
    }),
    async (c) => {
      const role = await core.updateRole(c.var.scope, c.req.valid("param").role_id, c.req.valid("json"));
      tag(c, role.version);
      return c.json({ result: roleOut(role) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/roles/{role_id}",
      tags: ["roles"],
      middleware: [admin, ifMatch] as const,
      request: { params: r.roleIdParam },
      responses: { 204: { description: "Deleted, and taken off every group and user" }, ...errors, ...conditionalWrite },
    }),
    async (c) => {
      await core.deleteRole(c.var.scope, c.req.valid("param").role_id);
      return c.body(null, 204);
    },
  );

  const holders = [
    {
      path: "/groups/{group_id}/roles",
      params: s.groupIdParam,
      id: (p: Record<string, string>) => p.group_id!,
      assign: core.assignGroupRoles,
      remove: core.removeGroupRoles,
      // Roles on a group change the group: If-Match names the group's version.
      guard: [write, ifMatch],
      conditional: conditionalWrite,
    },
    {
      path: "/users/{user_id}/roles",
      params: s.userIdParam,
      id: (p: Record<string, string>) => p.user_id!,
      assign: core.assignUserRoles,
      remove: core.removeUserRoles,
      guard: [write],
      conditional: {},
    },
  ] as const;
  for (const h of holders) {
    app.openapi(
      createRoute({
        method: "post",
        path: h.path,
        tags: ["roles"],
        middleware: [...h.guard],
        description: "Assigns roles. A caller may assign only roles lower than their own best role (admin tokens excepted).",
        request: { params: h.params, body: json(r.roleIdsBody) },
        responses: { 200: ok(s.result(r.assignResult), "What changed"), ...bodyErrors, ...h.conditional },
      }),
      async (c) => c.json({ result: await h.assign(c.var.scope, h.id(c.req.valid("param")), c.req.valid("json").role_ids) }, 200),
    );
    app.openapi(
      createRoute({
        method: "delete",
        path: h.path,
        tags: ["roles"],
        middleware: [...h.guard],
        description: "Takes roles away, under the same rule as assigning them.",
        request: { params: h.params, body: json(r.roleIdsBody) },
        responses: { 200: ok(s.result(r.unassignResult), "What changed"), ...bodyErrors, ...h.conditional },
      }),
      async (c) => c.json({ result: await h.remove(c.var.scope, h.id(c.req.valid("param")), c.req.valid("json").role_ids) }, 200),
    );
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/roles",
      tags: ["roles"],
      middleware: [read] as const,
      request: { params: s.groupIdParam },
      responses: { 200: ok(s.result(z.array(r.role)), "The group's roles"), ...errors },
    }),
    async (c) => c.json({ result: (await core.groupRoles(c.var.scope, c.req.valid("param").group_id)).map(roleOut) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/users/{user_id}/roles",
      tags: ["roles"],
      middleware: [read] as const,
      description: "The user's effective roles: their own plus those of their groups, inherited groups included.",
      request: { params: s.userIdParam },
      responses: { 200: ok(s.result(z.array(r.effectiveRole)), "Effective roles, highest first"), ...errors },
    }),
    async (c) => c.json({ result: (await core.effectiveRoles(c.var.scope, c.req.valid("param").user_id)).map(effectiveRoleOut) }, 200),
  );
}
