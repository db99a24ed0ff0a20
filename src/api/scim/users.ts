// /scim/v2/Users over the core users.
import type { Context } from "hono";
import { type ScimPatchOperation, scimPatch } from "scim-patch";
import { compileFilter, parseFilter, saveScimUser, scimUserPage, USER_ATTRIBUTES } from "../../core/scim";
import type { Scope } from "../../core/shared/context";
import { CoreError, notFound } from "../../core/shared/errors";
import { newId } from "../../core/shared/ids";
import { deleteUser, getUser, rewriteUser, type UserRow } from "../../core/users";
import type { AppEnv } from "../../http/app-env";
import { type ScimApp, scimJson } from "./app";
import { baseOf, checkIfMatch, listResponse, patchResult, readOnly } from "./http";
import { etagOf, profileOfScimUser, project, projectionOf, scimUser } from "./resources";
import * as s from "./schemas";

/**
 * A write of the user at the version its If-Match was checked against: `write` gets a scope that writes only over
 * that version, and runs again on the user as a racing write left it (where If-Match is checked again).
 */
const atCheckedVersion = <T>(c: Context<AppEnv>, id: string, write: (found: UserRow, at: Scope) => Promise<T>) =>
  rewriteUser(c.var.scope, id, (found, at) => {
    if (!found) throw notFound("user", id);
    checkIfMatch(c, found.version);
    return write(found, at);
  });

export function applyPatch(resource: Record<string, unknown>, ops: s.PatchOperation[]) {
  try {
    return scimPatch(resource as never, ops as ScimPatchOperation[]) as unknown as Record<string, unknown>;
  } catch (e) {
    const scimType = (e as { scimType?: string }).scimType ?? "invalidPath";
    throw new CoreError("invalid", `invalid patch: ${(e as Error).message}`, [{ message: (e as Error).message, scimType }]);
  }
}

/**
 * The problems a PATCH brought: a value stored before attribute types were checked, and left
 * as it was, does not block the change (a deprovisioning must not fail on an old title).
 */
function introduced(issues: readonly { path: PropertyKey[]; message: string }[], before: unknown, after: unknown) {
  const at = (doc: unknown, path: PropertyKey[]) =>
    path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), doc);
  return issues.filter((i) => JSON.stringify(at(before, i.path)) !== JSON.stringify(at(after, i.path)));
}

/** The PATCH's operations applied to the user as found, and saved through `at` (over that version). */
async function patchScimUser(c: Context<AppEnv>, id: string, ops: s.PatchOperation[], found: UserRow, at: Scope) {
  const current = scimUser(found, baseOf(c));
  // scim-patch changes the document in place: the user as it was is kept aside first.
  const before = JSON.parse(JSON.stringify(current)) as typeof current;
  const patched = applyPatch(current, ops);
  if (patched.id !== id) throw readOnly("id");
  if (JSON.stringify(patched.meta) !== JSON.stringify(before.meta)) throw readOnly("meta");
  const parsed = s.userBody.safeParse(patched);
  const problems = parsed.success ? [] : introduced(parsed.error.issues, before, patched);
  if (problems.length > 0)
    throw new CoreError(
      "invalid",
      `the patched user is not valid: ${problems.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      [{ message: "invalid result", scimType: "invalidValue" }],
    );
  return saveScimUser(at, id, profileOfScimUser(parsed.success ? parsed.data : patched), "patch");
}

export function registerUserRoutes(app: ScimApp) {
  app.get("/Users", s.valid("query", s.listQuery), async (c) => {
    const q = c.req.valid("query");
    const where = q.filter ? compileFilter(parseFilter(q.filter), USER_ATTRIBUTES) : undefined;
    const page = await scimUserPage(c.var.scope, where, q.startIndex, q.count);
    const p = projectionOf(q);
    return listResponse(
      c,
      page.rows.map((u) => project(scimUser(u, baseOf(c)), p)),
      page.total,
      q.startIndex,
    );
  });

  app.post("/Users", s.valid("json", s.userBody), async (c) => {
    const row = await saveScimUser(c.var.scope, newId(), profileOfScimUser(c.req.valid("json")), "create");
    const body = scimUser(row, baseOf(c));
    return scimJson(c, body, 201, { location: body.meta.location, etag: etagOf(row.version) });
  });

  app.get("/Users/:id", s.valid("param", s.idParam), s.valid("query", s.projectionQuery), async (c) => {
    const row = await getUser(c.var.scope, c.req.valid("param").id);
    return scimJson(c, project(scimUser(row, baseOf(c)), projectionOf(c.req.valid("query"))), 200, { etag: etagOf(row.version) });
  });

  app.put("/Users/:id", s.valid("param", s.idParam), s.valid("json", s.userBody), async (c) => {
    const id = c.req.valid("param").id;
    // Every SCIM attribute is replaced; the user's memberships and custom data stay.
    const profile = profileOfScimUser(c.req.valid("json"));
    const row = await atCheckedVersion(c, id, (_, at) => saveScimUser(at, id, profile, "patch"));
    return scimJson(c, scimUser(row, baseOf(c)), 200, { etag: etagOf(row.version) });
  });

  app.patch("/Users/:id", s.valid("param", s.idParam), s.valid("json", s.patchBody), async (c) => {
    const id = c.req.valid("param").id;
    // Applied to the user as it is when written: PATCHes an identity provider sends at once keep each other's changes.
    const ops = c.req.valid("json").Operations;
    const row = await atCheckedVersion(c, id, (found, at) => patchScimUser(c, id, ops, found, at));
    return patchResult(c, () => scimUser(row, baseOf(c)), row.version);
  });

  app.delete("/Users/:id", s.valid("param", s.idParam), async (c) => {
    const id = c.req.valid("param").id;
    await atCheckedVersion(c, id, (_, at) => deleteUser(at, id));
    return c.body(null, 204);
  });
}
