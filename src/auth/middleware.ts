import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { looksLikeApiKey } from "../core/keys";
import { type Principal, scopeFor } from "../core/shared/context";
import { CoreError } from "../core/shared/errors";
import { assertScope } from "../core/shared/scopes";
import type { AppEnv } from "../http/app-env";
import { type Budget, limitRequest } from "../http/rate-limit";
import { sourceOf } from "../http/surface";
import { verifyApiKey } from "./api-key";
import { actingPrincipal } from "./tenant-choice";
import { verifyToken } from "./verify";

/** Where a request carries its credential; async for a source that reads the body (Segment's writeKey). */
export type TokenSource = (c: Context<AppEnv>) => string | undefined | Promise<string | undefined>;

export const bearerToken = (c: Context<AppEnv>): string | undefined => {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
};

/** Work that may finish after the response (the Worker's waitUntil where there is one). */
export function background(c: Pick<Context, "executionCtx">): (p: Promise<unknown>) => void {
  return (p) => {
    try {
      c.executionCtx.waitUntil(p);
    } catch {
      // No execution context (app.request in tests): let it run on its own.
    }
  };
}

export interface AuthOptions {
  /** Where the credential is read (default: the Bearer header). */
  source?: TokenSource;
  /** The header in which a vendor token names the tenant it acts for (seed 001's frontegg-tenant-id). */
  tenantHeader?: string;
  /** Which of the tenant's per-minute budgets the request spends (default: interactive). */
  budget?: Budget;
}

/** The principal of a credential: an API key of the tenant, or a JWT. */
export async function principalOf(c: Context<AppEnv>, credential: string, tenantHeader?: string): Promise<Principal> {
  const named = tenantHeader ? c.req.header(tenantHeader) : undefined;
  if (looksLikeApiKey(credential)) {
    const key = await verifyApiKey(c.env, credential, background(c));
    return actingPrincipal({ kind: "tenant", principal: key }, tenantHeader, named);
  }
  return actingPrincipal(await verifyToken(c.env, credential), tenantHeader, named);
}

/** Verify the credential and put the principal and its tenant scope on the context. */
export const authenticate = (options: AuthOptions = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const credential = await (options.source ?? bearerToken)(c);
    if (!credential) throw new CoreError("unauthorized", "missing credential (Authorization: Bearer <JWT or API key>)");
    const principal = await principalOf(c, credential, options.tenantHeader);
    c.set("principal", principal);
    const scope = {
      ...(await scopeFor(c.env, principal, c.var.sessions)),
      surface: sourceOf(c.req.path, c.req.header("x-edge-groups-client")),
    };
    c.set("scope", scope);
    await limitRequest(c, scope, principal, options.budget ?? "interactive");
    await next();
  });

export const requireScope = (...anyOf: string[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    assertScope(c.var.principal, anyOf);
    await next();
  });

/**
 * The operator's routes (api/vendor): a vendor token with scope admin, never a tenant's
 * credential, whatever its scopes (a known API key is 403, an unknown one 401).
 */
export const authenticateVendor = createMiddleware<AppEnv>(async (c, next) => {
  const credential = bearerToken(c);
  if (!credential) throw new CoreError("unauthorized", "missing credential (Authorization: Bearer <vendor token>)");
  if (looksLikeApiKey(credential)) {
    await verifyApiKey(c.env, credential, background(c));
    throw new CoreError("forbidden", "placement and moves of tenants are the operator's: an API key is a tenant's credential");
  }
  const verified = await verifyToken(c.env, credential);
  if (verified.kind !== "vendor")
    throw new CoreError("forbidden", "placement and moves of tenants are the operator's: a vendor token is required");
  if (!verified.scopes.has("admin")) throw new CoreError("forbidden", "the operator's routes need a vendor token with scope admin");
  c.set("vendor", `vendor:${verified.subject}`);
  await next();
});
