// Idempotency-Key on writes (core/idempotency): the first request with a key runs and its
// answer is kept; a retry of the same request gets that answer, marked Idempotent-Replayed,
// and changes nothing; the same key on a different request is a 422 in the surface's format.
import { createMiddleware } from "hono/factory";
import { claimKey, keepAnswer, releaseKey } from "../core/idempotency";
import { CoreError } from "../core/shared/errors";
import type { AppEnv } from "./app-env";

/** Visible ASCII, as the draft's sf-string allows; long enough for a UUID or a client's own scheme. */
const KEY = /^[\x21-\x7e]{1,255}$/;
/** Headers of the first answer that a replay repeats. */
const REPLAYED_HEADERS = ["content-type", "etag", "location"];

async function fingerprintOf(method: string, url: string, body: string) {
  const { pathname, search } = new URL(url);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${method} ${pathname}${search}\n${body}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An API key's secret is shown once and never stored, so its creation keeps no answer to replay. */
const NEVER_KEPT = /\/api-keys\/?$/;

export const idempotency = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("idempotency-key");
  if (header === undefined || c.req.method === "GET" || c.req.method === "HEAD" || NEVER_KEPT.test(c.req.path)) return next();
  if (!KEY.test(header)) {
    throw new CoreError("invalid", "Idempotency-Key must be 1-255 visible ASCII characters", [
      { field: "Idempotency-Key", message: "invalid" },
    ]);
  }
  const scope = c.var.scope;
  // Keys are the caller's own: another credential of the tenant (one with fewer scopes, say) never gets this caller's answers.
  const key = JSON.stringify([c.var.principal.credential, c.var.principal.subject, header]);
  const claim = await claimKey(scope, key, await fingerprintOf(c.req.method, c.req.url, await c.req.text()));
  if (!claim.first) {
    return new Response(claim.answer.status === 204 || claim.answer.status === 304 ? null : claim.answer.body, {
      status: claim.answer.status,
      headers: { ...claim.answer.headers, "idempotent-replayed": "true" },
    });
  }
  try {
    await next();
  } catch (e) {
    await releaseKey(scope, key);
    throw e;
  }
  // A failure of ours, a rate limit, or a body sent as something other than JSON (the fingerprint does not cover
  // Content-Type, so the corrected retry would replay the 415) is not the request's answer: a retry runs afresh.
  if (c.res.status >= 500 || c.res.status === 429 || c.res.status === 415) return releaseKey(scope, key);
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = c.res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  await keepAnswer(scope, key, { status: c.res.status, headers, body: await c.res.clone().text() });
});
