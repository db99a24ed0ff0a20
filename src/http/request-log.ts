// One JSON line per request for Workers Logs: request id, tenant, surface, route pattern,
// status, duration and the D1, KV, Durable Object and queue calls it made; and for a request that
// failed on the server, one more line with the error and its cause. Only ids, patterns and
// counts are logged: never a token, key, secret, a body or a user's profile data (the route
// pattern stands in for the path, which can carry ids and emails).
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes, routePath } from "hono/route";
import type { Env } from "../env";
import type { AppEnv } from "./app-env";
import { surfaceOf } from "./surface";
import { watchedEnv } from "./watched-bindings";

export interface Calls {
  d1: number;
  kv: number;
  durableObjects: number;
  queues: number;
}

/** The bindings, counting each D1 statement run, KV call and Durable Object call into `calls`. */
export const countedEnv = (env: Env, calls: Calls): Env => watchedEnv(env, { call: (kind) => calls[kind]++ });

/** The route pattern of the request's handler, even when a middleware before it ended the request (catch-alls and middleware end in "*"). */
const handlerRoute = (c: Context<AppEnv>) =>
  matchedRoutes(c)
    .map((r) => r.path)
    .filter((p) => !p.endsWith("*"))
    .at(-1) ??
  (routePath(c) || null);

export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  // "off" (tests, benchmarks) drops the per-request line; a failure is logged whatever it says.
  const each = c.env.REQUEST_LOG !== "off";
  const started = Date.now();
  const calls: Calls = { d1: 0, kv: 0, durableObjects: 0, queues: 0 };
  if (each) c.env = countedEnv(c.env, calls);
  try {
    await next();
  } finally {
    const common = {
      request_id: c.var.requestId,
      tenant: c.var.principal?.tenantId ?? null,
      surface: surfaceOf(c.req.path),
      route: handlerRoute(c),
    };
    const status = c.res.status;
    if (each)
      console.log(JSON.stringify({ msg: "request", ...common, method: c.req.method, status, duration_ms: Date.now() - started, ...calls }));
    if (status >= 500 && c.error) {
      const cause = (c.error as { cause?: unknown }).cause;
      console.error(
        JSON.stringify({
          msg: "request failed",
          ...common,
          error: c.error.name,
          message: c.error.message,
          cause: cause instanceof Error ? `${cause.name}: ${cause.message}` : cause === undefined ? null : String(cause),
        }),
      );
    }
  }
});
