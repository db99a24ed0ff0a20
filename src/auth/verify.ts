// Token verification. Production: RS256/ES256 against a JWKS. Local runs: HS256 with
// AUTH_DEV_SECRET, which only a local .dev.vars sets. Neither configured: no access.
import { verify, verifyWithJwks } from "hono/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { z } from "zod";
import type { Env } from "../env";
import type { Principal } from "../core/context";
import { CoreError } from "../core/errors";
import { idSchema } from "../core/validation";

const claimsSchema = z.object({
  tenant_id: idSchema,
  sub: z.string().min(1).max(256),
  exp: z.number(),
  scope: z.string().max(4096).optional(),
  roles: z.array(z.string().max(128)).max(100).optional(),
});

const unauthorized = (message: string) => new CoreError("unauthorized", message);

const JWKS_TTL_MS = 10 * 60 * 1000;
let jwksCache: { url: string; keys: HonoJsonWebKey[]; at: number } | undefined;

async function jwksKeys(url: string): Promise<HonoJsonWebKey[]> {
  if (jwksCache && jwksCache.url === url && Date.now() - jwksCache.at < JWKS_TTL_MS) return jwksCache.keys;
  const res = await fetch(url);
  if (!res.ok) throw unauthorized(`could not fetch the signing keys (JWKS answered ${res.status})`);
  const body = (await res.json()) as { keys?: HonoJsonWebKey[] };
  jwksCache = { url, keys: body.keys ?? [], at: Date.now() };
  return jwksCache.keys;
}

function describe(e: unknown): string {
  const name = (e as Error)?.name ?? "";
  if (name === "JwtTokenExpired") return "token has expired";
  if (name === "JwtTokenSignatureMismatched") return "token signature does not verify";
  if (name === "JwtTokenIssuedAt" || name === "JwtTokenNotBefore") return "token is not valid yet";
  if (name === "JwtTokenIssuer") return "token issuer is not accepted";
  if (name === "JwtTokenAudience") return "token audience is not accepted";
  if (name === "JwtAlgorithmNotAllowed" || name === "JwtAlgorithmMismatched") return "token algorithm is not accepted";
  return "token is not a valid JWT";
}

// Verified tokens, by their exact text (signature included), for at most a minute and
// never past their expiry: an SDK or a login burst sends the same token many times.
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
const verified = new Map<string, { principal: Principal; until: number; config: string }>();

/** Verify the token, or answer from the cache of recently verified tokens. */
export async function verifyToken(env: Env, token: string): Promise<Principal> {
  // The auth settings are part of the key, so a changed configuration never reuses a verdict.
  const config = `${env.AUTH_JWKS_URL ?? ""}|${env.AUTH_ISSUER ?? ""}|${env.AUTH_AUDIENCE ?? ""}|${env.AUTH_DEV_SECRET ? "dev" : ""}`;
  const hit = verified.get(token);
  if (hit && hit.config === config && Date.now() < hit.until) return hit.principal;
  const { principal, exp } = await verifyUncached(env, token);
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(token, { principal, config, until: Math.min(exp * 1000, Date.now() + VERIFIED_TTL_MS) });
  return principal;
}

async function verifyUncached(env: Env, token: string): Promise<{ principal: Principal; exp: number }> {
  const verification = {
    ...(env.AUTH_ISSUER ? { iss: env.AUTH_ISSUER } : {}),
    ...(env.AUTH_AUDIENCE ? { aud: env.AUTH_AUDIENCE } : {}),
  };
  let payload: unknown;
  try {
    if (env.AUTH_JWKS_URL) {
      payload = await verifyWithJwks(token, {
        keys: await jwksKeys(env.AUTH_JWKS_URL),
        allowedAlgorithms: ["RS256", "ES256"],
        verification,
      });
    } else if (env.AUTH_DEV_SECRET) {
      payload = await verify(token, env.AUTH_DEV_SECRET, { alg: "HS256", ...verification });
    } else {
      throw unauthorized("auth is not configured: set AUTH_JWKS_URL (production) or AUTH_DEV_SECRET (local runs only)");
    }
  } catch (e) {
    if (e instanceof CoreError) throw e;
    throw unauthorized(describe(e));
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) {
    throw new CoreError(
      "unauthorized",
      "token lacks required claims",
      claims.error.issues.map((i) => ({ field: i.path.join("."), message: i.message })),
    );
  }
  const { tenant_id, sub, scope, roles, exp } = claims.data;
  return {
    principal: { tenantId: tenant_id, subject: sub, scopes: new Set((scope ?? "").split(" ").filter(Boolean)), roles: roles ?? [] },
    exp,
  };
}
