import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { scopeFor } from "../core/context";
import { CoreError } from "../core/errors";
import { assertScope } from "./scopes";
import { verifyToken } from "./verify";

export type TokenSource = (c: Context<AppEnv>) => string | undefined;

export const bearerToken: TokenSource = (c) => {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
};

/** Verify the token and put the principal and its tenant scope on the context. */
export const authenticate = (source: TokenSource = bearerToken) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const token = source(c);
    if (!token) throw new CoreError("unauthorized", "missing bearer token (Authorization: Bearer <JWT>)");
    const principal = await verifyToken(c.env, token);
    c.set("principal", principal);
    c.set("scope", scopeFor(c.env, principal));
    await next();
  });

export const requireScope = (...anyOf: string[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    assertScope(c.var.principal, anyOf);
    await next();
  });
