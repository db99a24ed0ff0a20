import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { MOVE_RETRY_AFTER_SECONDS, moveRefusal } from "../core/shards/fence";
import { CoreError, type ErrorKind } from "../core/shared/errors";

const kindOfStatus: Record<number, ErrorKind> = {
  400: "invalid",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  410: "gone",
  412: "precondition_failed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "limit_exceeded",
  429: "rate_limited",
  503: "unavailable",
};

/** Every surface's 415: a body sent with a Content-Type that is not JSON. */
export const UNSUPPORTED_BODY = "the request body must be JSON, sent with Content-Type: application/json";

/** Every error a request can end in, as a CoreError; unknown errors become null (a 500). */
export function asCoreError(err: unknown): CoreError | null {
  if (err instanceof CoreError) return err;
  // A shard's triggers refuse a moving tenant's writes (core/shards/move.ts): nothing was written, retry shortly.
  const refused = moveRefusal(err);
  if (refused) return refused;
  if (err instanceof HTTPException) {
    const kind = kindOfStatus[err.status];
    if (!kind) return null;
    const message = err.message.includes("Malformed JSON")
      ? "malformed JSON in request body, or no body sent (this call takes a JSON body)"
      : err.status === 415
        ? UNSUPPORTED_BODY
        : err.message || kind;
    return new CoreError(kind, message);
  }
  return null;
}

/** A failed zod parse (any zod build: @hono/zod-openapi and zod may differ) as a 400. */
export function invalidInput(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }, where: string): CoreError {
  return new CoreError(
    "invalid",
    `invalid ${where}`,
    error.issues.map((i) => ({ field: i.path.map(String).join(".") || where, message: i.message })),
  );
}

/** Every surface's 503 (a tenant's move fenced its write) says when to retry. */
export const retryAfterMove = createMiddleware(async (c, next) => {
  await next();
  if (c.res.status === 503 && !c.res.headers.has("retry-after")) {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set("Retry-After", String(MOVE_RETRY_AFTER_SECONDS));
  }
});
