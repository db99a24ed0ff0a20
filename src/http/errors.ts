import { HTTPException } from "hono/http-exception";
import { CoreError, type ErrorKind } from "../core/shared/errors";

const kindOfStatus: Record<number, ErrorKind> = {
  400: "invalid",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  410: "gone",
  412: "precondition_failed",
  413: "payload_too_large",
  422: "limit_exceeded",
  429: "rate_limited",
};

/** Every error a request can end in, as a CoreError; unknown errors become null (a 500). */
export function asCoreError(err: unknown): CoreError | null {
  if (err instanceof CoreError) return err;
  if (err instanceof HTTPException) {
    const kind = kindOfStatus[err.status];
    if (!kind) return null;
    const message = err.message.includes("Malformed JSON") ? "malformed JSON in request body" : err.message || kind;
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
