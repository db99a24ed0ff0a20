// Conditional requests (RFC 9110 §13.1) over the versions of core/shared/versions.ts:
// If-Match on writes becomes the scope's expected versions, checked where the write is
// serialised; a read sets its resource's ETag, and Hono's etag middleware answers
// If-None-Match with 304.
import type { Context } from "hono";
import { etag } from "hono/etag";
import { createMiddleware } from "hono/factory";
import type { CoreError } from "../core/shared/errors";
import { currentTagOf, etagOf, versionsOf } from "../core/shared/versions";
import type { AppEnv } from "./app-env";

/** On a write: the versions If-Match names go to the core, which answers 412 if the resource is at another. */
export const ifMatch = createMiddleware<AppEnv>(async (c, next) => {
  const expect = versionsOf(c.req.header("if-match"));
  if (expect) c.set("scope", { ...c.var.scope, expect });
  await next();
});

/** On a read whose handler sets ETag (tag()): If-None-Match naming it → 304 without a body. */
export const ifNoneMatch = etag();

/**
 * For a read whose body holds more than the row its version counts (counts over the
 * sub-groups, members' profiles, roles, the caller's own role): the tag becomes
 * W/"<version>-<digest of the body>", so If-None-Match never answers 304 to a body that
 * changed, while If-Match still reads the version from it. Listed after ifNoneMatch.
 */
export const viewTag = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const version = versionsOf(c.res.headers.get("etag") ?? undefined)?.[0];
  if (!c.res.ok || version === undefined) return;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", await c.res.clone().arrayBuffer()));
  const hex = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  c.res.headers.set("ETag", `W/"${version}-${hex}"`);
});

/** The resource's entity tag on this response. */
export function tag(c: Context, version: number) {
  c.header("ETag", etagOf(version));
}

/** A 412's headers: the current tag, so the client can read again or retry with it. */
export const errorHeaders = (e: CoreError): Record<string, string> | undefined => {
  const current = currentTagOf(e);
  return current ? { ETag: current } : undefined;
};
