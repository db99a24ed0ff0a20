// The seed-001 user-groups API at /resources/groups/v1 and /v2, over the same core as /v1.
import { requireScope } from "../../auth/middleware";
import { loadConfig, updateSettings } from "../../core/config";
import * as groups from "../../core/groups";
import * as members from "../../core/members";
import * as roles from "../../core/roles";
import { notFound } from "../../core/shared/errors";
import { SCOPES } from "../../core/shared/scopes";
import { ifMatch, ifNoneMatch, tag, viewTag } from "../../http/conditional";
import { unknownRoute } from "../../http/unknown-route";
import { fronteggApp, groupsEnabled } from "./app";
import * as s from "./schemas";
import { configOut, groupOut } from "./shape";

const read = requireScope(SCOPES.read);
const write = requireScope(SCOPES.write);
const admin = requireScope(SCOPES.admin);

export function fronteggRoutes() {
  const app = fronteggApp();

  app.get("/v1/config", read, ifNoneMatch, async (c) => {
    const config = await loadConfig(c.var.scope.db, c.var.scope.tenantId);
    tag(c, config.version);
    return c.json(configOut(config.settings));
  });
  app.post("/v1/config", admin, ifMatch, s.valid("json", s.configBody), async (c) => {
    const { enabled, rolesEnabled, ...rest } = c.req.valid("json");
    const next = await updateSettings(c.var.scope, { ...rest, groupsEnabled: enabled, rolesOnGroupsEnabled: rolesEnabled });
    tag(c, next.version);
    return c.json(configOut(next.settings), 201);
  });

  app.use("/v1", groupsEnabled);
  app.use("/v1/*", groupsEnabled);
  app.use("/v2", groupsEnabled);

  app.get("/v1", read, async (c) => {
    const all = await groups.allGroupViews(c.var.scope, s.ALL_RELATIONS);
    return c.json({ groups: all.map(groupOut) });
  });

  app.post("/v1", write, s.valid("json", s.createGroupBody), async (c) => {
    const b = c.req.valid("json");
    const g = await groups.createGroup(c.var.scope, { name: b.name, description: b.description, color: b.color, customData: b.metadata });
    return c.json(groupOut({ group: g, roles: [], users: [] }), 201);
  });

  app.post("/v1/bulkGet", read, s.valid("json", s.bulkGetBody), async (c) => {
    const found = await groups.groupViewsByIds(c.var.scope, c.req.valid("json").groupsIds, s.ALL_RELATIONS);
    return c.json({ groups: found.map(groupOut) });
  });

  app.get("/v1/:id", read, ifNoneMatch, viewTag, s.valid("param", s.idParam), async (c) => {
    const id = c.req.valid("param").id;
    const view = await groups.groupView(c.var.scope, id, s.ALL_RELATIONS);
    if (!view) throw notFound("group", id);
    tag(c, view.group.version);
    return c.json(groupOut(view));
  });

  app.patch("/v1/:id", write, ifMatch, s.valid("param", s.idParam), s.valid("json", s.updateGroupBody), async (c) => {
    const id = c.req.valid("param").id;
    const b = c.req.valid("json");
    await groups.updateGroup(c.var.scope, id, { name: b.name, description: b.description, color: b.color, customData: b.metadata });
    const view = await groups.groupView(c.var.scope, id, s.ALL_RELATIONS);
    if (!view) throw notFound("group", id);
    tag(c, view.group.version);
    return c.json(groupOut(view));
  });

  app.delete("/v1/:id", write, ifMatch, s.valid("param", s.idParam), async (c) => {
    await groups.deleteGroup(c.var.scope, c.req.valid("param").id);
    return c.body(null, 200);
  });

  app.post("/v1/:groupId/roles", write, ifMatch, s.valid("param", s.groupIdParam), s.valid("json", s.roleIdsBody), async (c) => {
    const r = await roles.assignGroupRoles(c.var.scope, c.req.valid("param").groupId, c.req.valid("json").roleIds);
    return c.json({ assigned: r.assigned, alreadyAssigned: r.already_assigned });
  });

  app.delete("/v1/:groupId/roles", write, ifMatch, s.valid("param", s.groupIdParam), s.valid("json", s.roleIdsBody), async (c) => {
    const r = await roles.removeGroupRoles(c.var.scope, c.req.valid("param").groupId, c.req.valid("json").roleIds);
    return c.json({ removed: r.removed, notAssigned: r.not_assigned });
  });

  app.post("/v1/:groupId/users", write, ifMatch, s.valid("param", s.groupIdParam), s.valid("json", s.userIdsBody), async (c) => {
    const r = await members.addMembers(c.var.scope, c.req.valid("param").groupId, c.req.valid("json").userIds);
    tag(c, r.version);
    return c.json({ added: r.added, alreadyMembers: r.already_members });
  });

  app.delete("/v1/:groupId/users", write, ifMatch, s.valid("param", s.groupIdParam), s.valid("json", s.userIdsBody), async (c) => {
    const r = await members.removeMembers(c.var.scope, c.req.valid("param").groupId, c.req.valid("json").userIds);
    tag(c, r.version);
    return c.json({ removed: r.removed, notMembers: r.not_members, stillMembers: r.still_members.map((m) => m.user_id) });
  });

  app.get("/v2", read, s.valid("query", s.v2Query), async (c) => {
    const q = c.req.valid("query");
    const page = await groups.groupViewPage(
      c.var.scope,
      { limit: q._limit, offset: q._offset, sortBy: q._sortBy, order: q._order },
      s.relationsOf(q._groupsRelations),
    );
    return c.json({ items: page.items.map(groupOut), _metadata: { totalItems: page.total, totalPages: Math.ceil(page.total / q._limit) } });
  });

  app.all("*", (c) => {
    throw unknownRoute(app, c, `route '${c.req.method} ${c.req.path}' was not found`);
  });
  return app;
}
