// /scim/v2/Groups over the core groups; member changes go through the group's coordinator.
import type { Context } from "hono";
import { z } from "zod";
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
import type { Scope } from "../../core/shared/context";
import { CoreError } from "../../core/shared/errors";
import type { AppEnv } from "../../http/app-env";
import { type ScimApp, scimJson } from "./app";
import { baseOf, checkIfMatch, listResponse, patchResult, readOnly } from "./http";
import { etagOf, type Projection, project, projectionOf, scimGroup, wants } from "./resources";
import * as s from "./schemas";

async function shaped(c: Context<AppEnv>, g: groups.GroupRow, p: Projection = { attributes: [], excluded: [] }) {
  // excludedAttributes=members (or attributes without members) does not load them at all.
  const members = wants(p, "members") ? (await scimMembersOf(c.var.scope, [g.id])).get(g.id) : undefined;
  return project(scimGroup(g, baseOf(c), members), p);
}

/**
 * The group's If-Match checked, and the scopes its writes go through: the first write only at the version checked (a
 * write of another client landing meanwhile is a 412, not overwritten); the writes after it follow the first's own.
 */
async function checkedWrites(c: Context<AppEnv>, id: string): Promise<() => Scope> {
  const row = await groups.getGroup(c.var.scope, id);
  let first = checkIfMatch(c, row.version);
  return () => {
    const scope = first ? { ...c.var.scope, expect: [row.version] } : c.var.scope;
    first = false;
    return scope;
  };
}

/**
 * A PATCH value for one attribute, checked as POST and PUT check it: a wrong one is
 * invalidValue, never skipped. explained: the error's message, when zod's would not say enough.
 */
function attributeValue<T>(schema: z.ZodType<T>, value: unknown, attribute: string, explained?: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = `${attribute} ${parsed.error.issues[0]?.message ?? "is not valid"}`;
  throw new CoreError("invalid", explained ?? issue, [{ message: issue, scimType: "invalidValue" }]);
}

const members = (value: unknown) => attributeValue(s.memberList, value, "members", "members must be a list of {value, display}");

/** The member filter of a path such as members[value eq "id"]: the ids it names. */
function memberIdsOfPath(path: string): string[] | null {
  const m = path.match(/^members\[\s*value\s+eq\s+"?([^"\]]+)"?\s*\]$/i);
  return m ? [m[1]!] : null;
}

type Step = () => Promise<unknown>;
/** What one operation does: fields it sets, and member changes in their order. */
interface Planned {
  patch: groups.GroupPatch;
  steps: Step[];
}

/**
 * One operation, checked whole before any runs: RFC 7644 treats a PATCH as atomic, so an
 * operation refused for its input must leave the earlier ones unapplied.
 */
function planGroupOperation(scope: () => Scope, id: string, op: s.PatchOperation): Planned {
  const path = op.path?.trim();
  const only = (...steps: Step[]): Planned => ({ patch: {}, steps });
  const fields = (v: Record<string, unknown>): groups.GroupPatch => ({
    ...(v.displayName !== undefined ? { name: attributeValue(s.groupDisplayName, v.displayName, "displayName") } : {}),
    ...(v.externalId !== undefined ? { externalId: attributeValue(s.externalIdSchema.nullable(), v.externalId, "externalId") } : {}),
  });
  if (path && /^(id|meta)(\.|$)/i.test(path)) throw readOnly(path);
  if (!path) {
    if (op.op === "remove") throw new CoreError("invalid", "remove needs a path", [{ message: "no path", scimType: "noTarget" }]);
    const v = attributeValue(
      z.record(z.string(), z.unknown(), { message: "must be an object of attributes" }),
      op.value ?? {},
      "a value without a path",
    );
    // Okta's rename sends the group's own id beside the new name; another id would be a change.
    if (v.id !== undefined && v.id !== id) throw readOnly("id");
    if (v.meta !== undefined) throw readOnly("meta");
    if (v.members === undefined) return { patch: fields(v), steps: [] };
    const list = members(v.members);
    const step = () => (op.op === "replace" ? replaceScimMembers(scope(), id, list) : addScimMembers(scope(), id, list));
    return { patch: fields(v), steps: [step] };
  }
  if (/^members$/i.test(path)) {
    if (op.op === "remove" && op.value !== undefined) {
      const ids = members(op.value).map((m) => m.value);
      return only(() => removeScimMembers(scope(), id, ids));
    }
    // remove without a value: every member.
    const list = op.op === "remove" ? [] : members(op.op === "replace" ? (op.value ?? []) : op.value);
    return only(() => (op.op === "add" ? addScimMembers(scope(), id, list) : replaceScimMembers(scope(), id, list)));
  }
  const named = memberIdsOfPath(path);
  if (named) {
    if (op.op !== "remove")
      throw new CoreError("invalid", `only remove is supported on ${path}`, [{ message: "unsupported", scimType: "invalidPath" }]);
    return only(() => removeScimMembers(scope(), id, named));
  }
  if (/^(displayName|externalId)$/i.test(path)) {
    if (op.op === "remove" && /^displayName$/i.test(path))
      throw new CoreError("invalid", "displayName is required", [{ message: "required", scimType: "mutability" }]);
    const key = /^displayName$/i.test(path) ? "displayName" : "externalId";
    return { patch: fields({ [key]: op.op === "remove" ? null : op.value }), steps: [] };
  }
  throw new CoreError("invalid", `unsupported path '${path}'`, [{ message: "unsupported path", scimType: "invalidPath" }]);
}

/**
 * Fields and members are apart, so the fields go first, as one change (the last value of each
 * wins, as in order): a name clash (409) then stops the PATCH before any member changed.
 */
async function applyGroupPatch(scope: () => Scope, id: string, ops: s.PatchOperation[]) {
  const planned = ops.map((op) => planGroupOperation(scope, id, op));
  const patch = Object.assign({}, ...planned.map((p) => p.patch)) as groups.GroupPatch;
  if (Object.keys(patch).length > 0) await groups.updateGroup(scope(), id, patch);
  for (const step of planned.flatMap((p) => p.steps)) await step();
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
    const write = await checkedWrites(c, id);
    const b = c.req.valid("json");
    await groups.updateGroup(write(), id, { name: b.displayName, externalId: b.externalId ?? null });
    await replaceScimMembers(write(), id, b.members ?? []);
    const row = await groups.getGroup(c.var.scope, id);
    return scimJson(c, await shaped(c, row), 200, { etag: etagOf(row.version) });
  });

  app.patch("/Groups/:id", s.valid("param", s.idParam), s.valid("json", s.patchBody), async (c) => {
    const id = c.req.valid("param").id;
    await applyGroupPatch(await checkedWrites(c, id), id, c.req.valid("json").Operations);
    const row = await groups.getGroup(c.var.scope, id);
    return patchResult(c, () => shaped(c, row), row.version);
  });

  app.delete("/Groups/:id", s.valid("param", s.idParam), async (c) => {
    const id = c.req.valid("param").id;
    const write = await checkedWrites(c, id);
    await groups.deleteGroup(write(), id);
    return c.body(null, 204);
  });
}
