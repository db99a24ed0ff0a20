// A request no route of a surface takes: 405 with Allow (RFC 9110 §15.5.6) when the path is
// one of the surface's with other methods, 404 when the path is unknown. Each surface's
// catch-all throws what this returns, so the answer comes in that surface's error format.
import type { Context, Hono } from "hono";
import { PatternRouter } from "hono/router/pattern-router";
import { CoreError } from "../core/shared/errors";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
// biome-ignore lint/suspicious/noExplicitAny: any app's routes, whatever its bindings and schema
type AnyApp = Hono<any, any, any>;

interface Known {
  router: PatternRouter<true>;
  /** The app's own path of its catch-all: "/*", or under the app's base path ("/scim/v2/*"). */
  catchAll: string;
}
const known = new WeakMap<AnyApp, Known>();

/** The app's routes by method (middleware and the catch-all are registered for every method, ALL, so they are left out). */
function knownOf(app: AnyApp): Known {
  let k = known.get(app);
  if (!k) {
    const router = new PatternRouter<true>();
    for (const r of app.routes) if ((METHODS as readonly string[]).includes(r.method)) router.add(r.method, r.path, true);
    const catchAll = [...app.routes].reverse().find((r) => r.method === "ALL" && r.path.endsWith("/*"))?.path ?? "/*";
    k = { router, catchAll };
    known.set(app, k);
  }
  return k;
}

/** The error for a request that reached the app's catch-all; notFound says what was not found. */
export function unknownRoute(app: AnyApp, c: Context, notFound: string): CoreError {
  const { router, catchAll } = knownOf(app);
  // The catch-all matched as the mount point followed by the app's own catch-all path: the app's routes are written below the mount point.
  const mount = c.req.routePath.slice(0, c.req.routePath.length - catchAll.length);
  const path = c.req.path.slice(mount.length) || "/";
  const allowed = METHODS.filter((m) => router.match(m, path)[0].length > 0);
  if (allowed.length === 0) return new CoreError("not_found", notFound);
  const allow = [...allowed, ...(allowed.includes("GET") ? ["HEAD"] : [])].join(", ");
  c.header("Allow", allow);
  return new CoreError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}; it takes ${allow}`);
}

/** The error for a path that takes only these methods (the analytics routes), asked with another one. */
export function onlyMethods(c: Context, allow: string): CoreError {
  c.header("Allow", allow);
  return new CoreError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}; it takes ${allow}`);
}

export const postOnly = (c: Context) => onlyMethods(c, "POST");
