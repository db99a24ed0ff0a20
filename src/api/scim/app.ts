// SCIM 2.0 plumbing: the error schema, application/scim+json, Bearer auth with scope scim.
import { type Context, Hono } from "hono";
import { authenticate, requireScope } from "../../auth/middleware";
import { SCOPES } from "../../core/shared/scopes";
import type { AppEnv } from "../../http/app-env";
import { asCoreError } from "../../http/errors";
import { limitBody } from "../../http/middleware";

export const SCIM = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  enterprise: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  list: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  patch: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
  bulkRequest: "urn:ietf:params:scim:api:messages:2.0:BulkRequest",
  bulkResponse: "urn:ietf:params:scim:api:messages:2.0:BulkResponse",
} as const;

const CONTENT_TYPE = "application/scim+json; charset=utf-8";

export function scimJson(c: Context, body: unknown, status = 200, headers: Record<string, string> = {}) {
  return c.body(JSON.stringify(body), status as 200, { "content-type": CONTENT_TYPE, ...headers });
}

const scimTypeOf: Record<string, string | undefined> = { conflict: "uniqueness", precondition_failed: undefined, invalid: "invalidValue" };

export function scimError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    return scimJson(c, { schemas: [SCIM.error], status: "500", detail: "internal error" }, 500);
  }
  const scimType =
    (e.details.find((d) => typeof d.scimType === "string")?.scimType as string | undefined) ??
    (e.message.startsWith("malformed JSON") ? "invalidSyntax" : scimTypeOf[e.kind]);
  const detail = [
    e.message,
    ...e.details.filter((d) => d.message !== e.message).map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)),
  ].join("; ");
  return scimJson(c, { schemas: [SCIM.error], status: String(e.status), ...(scimType ? { scimType } : {}), detail }, e.status);
}

export const SCIM_BASE = "/scim/v2";

export function scimApp() {
  const app = new Hono<AppEnv>().basePath(SCIM_BASE);
  app.use("*", limitBody(), authenticate({ budget: "scim" }), requireScope(SCOPES.scim));
  app.onError((err, c) => scimError(c, err));
  return app;
}

export type ScimApp = ReturnType<typeof scimApp>;
