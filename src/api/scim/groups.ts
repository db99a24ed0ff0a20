// /scim/v2/Groups over the core groups; member changes go through the group's coordinator.
import type { Context } from "hono";
import * as groups from "../../core/groups";
import {
  addScimMembers,
  compileFilter,
  GROUP_ATTRIBUTES,
  parseFilter,
  removeScimMembers,
  replaceScimMembers,
  scimGroupPage,
  scimMembersOf,
} from "../../core/scim";
import { CoreError } from "../../core/shared/errors";
import type { AppEnv } from "../../http/app-env";
import { type ScimApp, scimJson } from "./app";
import { baseOf, checkIfMatch, listResponse, patchResult } from "./http";
import { etagOf, type Projection, project, projectionOf, scimGroup, wants } from "./resources";
import * as s from "./schemas";

async function shaped(c: Context<AppEnv>, g: groups.GroupRow, p: Projection = { attributes: [], excluded: [] }) {
  // excludedAttributes=members (or attributes without members) does not load them at all.
  const members = wants(p, "members") ? (await scimMembersOf(c.var.scope, [g.id])).get(g.id) : undefined;
  return project(scimGroup(g, baseOf(c), members), p);
}

async function existing(c: Context<AppEnv>, id: string) {
  const row = await groups.getGroup(c.var.scope, id);
  checkIfMatch(c, row.version);
  return row;
}

const members = (value: unknown) => {
  const parsed = s.memberList.safeParse(value);
  if (!parsed.success)
    throw new CoreError("invalid", "members must be a list of {value, display}", [
      { message: parsed.error.issues[0]?.message ?? "invalid", scimType: "invalidValue" },
    ]);
  return parsed.data;
};

/** The member filter of a path such as members[value eq "id"]: the ids it names. */
function memberIdsOfPath(path: string): string[] | null {
  const m = path.match(/^members\[\s*value\s+eq\s+"?([^"\]]+)"?\s*\]$/i);
  return m ? [m[1]!] : null;
}

async function applyGroupOperation(c: Context<AppEnv>, id: string, op: s.PatchOperation) {
  const scope = c.var.scope;
  const path = op.path?.trim();
  const fields = async (v: Record<string, unknown>) => {
    const patch = {
      ...(typeof v.displayName === "string" ? { name: v.displayName } : {}),
      ...(typeof v.externalId === "string" || v.externalId === null ? { externalId: v.externalId as string | null } : {}),
    };
    if (Object.keys(patch).length > 0) await groups.updateGroup(scope, id, patch);
  };
  if (!path) {
    if (op.op === "remove") throw new CoreError("invalid", "remove needs a path", [{ message: "no path", scimType: "noTarget" }]);
    const v = (op.value ?? {}) as Record<string, unknown>;
    await fields(v);
    if (v.members !== undefined)
      await (op.op === "replace" ? replaceScimMembers(scope, id, members(v.members)) : addScimMembers(scope, id, members(v.members)));
    return;
  }
  if (/^members$/i.test(path)) {
    if (op.op === "add") return addScimMembers(scope, id, members(op.value));
    if (op.op === "replace") return replaceScimMembers(scope, id, members(op.value ?? []));
    // remove: the members listed in value, or every member.
    if (op.value === undefined) return replaceScimMembers(scope, id, []);
    return removeScimMembers(
      scope,
      id,
      members(op.value).map((m) => m.value),
    );
  }
  const named = memberIdsOfPath(path);
  if (named) {
    if (op.op !== "remove")
      throw new CoreError("invalid", `only remove is supported on ${path}`, [{ message: "unsupported", scimType: "invalidPath" }]);
    return removeScimMembers(scope, id, named);
  }
  if (/^(displayName|externalId)$/i.test(path)) {
    if (op.op === "remove" && /^displayName$/i.test(path))
      throw new CoreError("invalid", "displayName is required", [{ message: "required", scimType: "mutability" }]);
    const key = /^displayName$/i.test(path) ? "displayName" : "externalId";
    return fields({ [key]: op.op === "remove" ? null : op.value });
  }
  throw new CoreError("invalid", `unsupported path '${path}'`, [{ message: "unsupported path", scimType: "invalidPath" }]);
}

export function registerGroupRoutes(app: ScimApp) {
  app.get("/Groups", s.valid("query", s.listQuery), async (c) => {
    const q = c.req.valid("query");
    const where = q.filter ? compileFilter(parseFilter(q.filter), GROUP_ATTRIBUTES) : undefined;
    const page = await scimGroupPage(c.var.scope, where, q.startIndex, q.count);
    const p = projectionOf(q);
    const byGroup = wants(p, "members")
      ? await scimMembersOf(
          c.var.scope,
          page.rows.map((g) => g.id),
        )
      : undefined;
    return listResponse(
      c,
      page.rows.map((g) => project(scimGroup(g, baseOf(c), byGroup?.get(g.id)), p)),
      page.total,
      q.startIndex,
    );
  });

  app.post("/Groups", s.valid("json", s.groupBody), async (c) => {
    const b = c.req.valid("json");
    const g = await groups.createGroup(c.var.scope, { name: b.displayName, externalId: b.externalId ?? null });
    if (b.members && b.members.length > 0) await addScimMembers(c.var.scope, g.id, b.members);
    const row = await groups.getGroup(c.var.scope, g.id);
    const body = await shaped(c, row);
    return scimJson(c, body, 201, { location: `${baseOf(c)}/Groups/${g.id}`, etag: etagOf(row.version) });
  });

  app.get("/Groups/:id", s.valid("param", s.idParam), s.valid("query", s.projectionQuery), async (c) => {
    const row = await groups.getGroup(c.var.scope, c.req.valid("param").id);
    return scimJson(c, await shaped(c, row, projectionOf(c.req.valid("query"))), 200, { etag: etagOf(row.version) });
  });

  app.put("/Groups/:id", s.valid("param", s.idParam), s.valid("json", s.groupBody), async (c) => {
    const id = c.req.valid("param").id;
    await existing(c, id);
    const b = c.req.valid("json");
    await groups.updateGroup(c.var.scope, id, { name: b.displayName, externalId: b.externalId ?? null });
    await replaceScimMembers(c.var.scope, id, b.members ?? []);
    const row = await groups.getGroup(c.var.scope, id);
    return scimJson(c, await shaped(c, row), 200, { etag: etagOf(row.version) });
  });

  app.patch("/Groups/:id", s.valid("param", s.idParam), s.valid("json", s.patchBody), async (c) => {
    const id = c.req.valid("param").id;
    await existing(c, id);
    for (const op of c.req.valid("json").Operations) await applyGroupOperation(c, id, op);
    const row = await groups.getGroup(c.var.scope, id);
    return patchResult(c, () => shaped(c, row), row.version);
  });

  app.delete("/Groups/:id", s.valid("param", s.idParam), async (c) => {
    const id = c.req.valid("param").id;
    await existing(c, id);
    await groups.deleteGroup(c.var.scope, id);
    return c.body(null, 204);
  });
}
