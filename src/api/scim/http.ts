// Small SCIM protocol helpers shared by the resource routes.
import type { Context } from "hono";
import { CoreError } from "../../core/shared/errors";
import type { AppEnv } from "../../http/app-env";
import { SCIM, SCIM_BASE, scimJson } from "./app";
import { etagOf } from "./resources";

/** The SCIM base URL of this request (…/scim/v2), for meta.location and $ref. */
export const baseOf = (c: Context) => `${new URL(c.req.url).origin}${SCIM_BASE}`;

/** If-Match with another version → 412, nothing changed. Whether it named a version (absent or "*" name none). */
export function checkIfMatch(c: Context, version: number): boolean {
  const header = c.req.header("if-match");
  if (!header || header.trim() === "*") return false;
  const tags = header.split(",").map((t) => t.trim());
  if (!tags.includes(etagOf(version)) && !tags.includes(`"${version}"`)) {
    throw new CoreError("precondition_failed", `the resource is at version ${etagOf(version)}, not ${header}`);
  }
  return true;
}

/** RFC 7644 §3.5.2: an operation may not change an attribute whose mutability is readOnly (id, meta). */
export const readOnly = (attribute: string) =>
  new CoreError("invalid", `${attribute} is read-only`, [{ message: `${attribute} is read-only`, scimType: "mutability" }]);

export const listResponse = (c: Context, resources: unknown[], total: number, startIndex: number) =>
  scimJson(c, { schemas: [SCIM.list], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources });

/** PATCH answers 204 (as Entra expects), or 200 with the resource when asked (attributes, or Prefer: return=representation). */
export async function patchResult(c: Context<AppEnv>, resource: () => unknown, version: number) {
  const wantsBody = c.req.query("attributes") !== undefined || /return=representation/i.test(c.req.header("prefer") ?? "");
  if (!wantsBody) return c.body(null, 204, { etag: etagOf(version) });
  return scimJson(c, await resource(), 200, { etag: etagOf(version) });
}
