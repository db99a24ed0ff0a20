// Token verification. Two kinds of JWT, each from its own configured source:
// - tenant tokens (AUTH_*): RS256/ES256 against AUTH_JWKS_URL with AUTH_ISSUER and
//   AUTH_AUDIENCE required, or HS256 with AUTH_DEV_SECRET (local runs only). The tenant
//   is the token's tenant_id claim, and nothing else can change it.
// - vendor tokens (VENDOR_*, off unless configured): issued by the deployment's operator
//   for its own audience; they carry no tenant and act for the tenant a surface lets them
//   name (auth/tenant-choice.ts). No scope string can make a tenant token a vendor token.
// Nothing configured, or configured halfway: no access.
import { decode, verify, verifyWithJwks } from "hono/jwt";
import { z } from "zod";
import type { Principal } from "../core/shared/context";
import { CoreError } from "../core/shared/errors";
import { idSchema } from "../core/shared/validation";
import type { Env } from "../env";
import { keysFor } from "./jwks";

/** A verified JWT: a tenant's principal, or a vendor credential that has yet to name its tenant. */
export type VerifiedToken = { kind: "tenant"; principal: Principal } | { kind: "vendor"; subject: string; scopes: ReadonlySet<string> };

interface Source {
  jwksUrl?: string;
  secret?: string;
  iss?: string;
  aud?: string;
}
type Setup = { ok: true; source: Source } | { ok: false; message: string };

const tenantClaims = z.object({
  tenant_id: idSchema,
  sub: z.string().min(1).max(256),
  exp: z.number(),
  scope: z.string().max(4096).optional(),
  roles: z.array(z.string().max(128)).max(100).optional(),
});
const vendorClaims = z.object({ sub: z.string().min(1).max(256), exp: z.number(), scope: z.string().max(4096).optional() });

const unauthorized = (message: string) => new CoreError("unauthorized", message);

function tenantSetup(env: Env): Setup {
  if (env.AUTH_JWKS_URL) {
    if (!env.AUTH_ISSUER || !env.AUTH_AUDIENCE) {
      return { ok: false, message: "auth is misconfigured: AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE" };
    }
    return { ok: true, source: { jwksUrl: env.AUTH_JWKS_URL, iss: env.AUTH_ISSUER, aud: env.AUTH_AUDIENCE } };
  }
  if (env.AUTH_DEV_SECRET) return { ok: true, source: { secret: env.AUTH_DEV_SECRET, iss: env.AUTH_ISSUER, aud: env.AUTH_AUDIENCE } };
  return { ok: false, message: "auth is not configured: set AUTH_JWKS_URL (production) or AUTH_DEV_SECRET (local runs only)" };
}

/** null: vendor tokens are off (the default). */
function vendorSetup(env: Env): Setup | null {
  const { VENDOR_JWKS_URL: jwksUrl, VENDOR_DEV_SECRET: secret, VENDOR_ISSUER: iss, VENDOR_AUDIENCE: aud } = env;
  if (!jwksUrl && !secret && !iss && !aud) return null;
  const bad = (why: string): Setup => ({ ok: false, message: `vendor auth is misconfigured: ${why}` });
  if (!iss || !aud) return bad("VENDOR_ISSUER and VENDOR_AUDIENCE are both required");
  if (Boolean(jwksUrl) === Boolean(secret)) return bad("set exactly one of VENDOR_JWKS_URL and VENDOR_DEV_SECRET");
  if (aud === env.AUTH_AUDIENCE) return bad("VENDOR_AUDIENCE must differ from AUTH_AUDIENCE");
  if (secret && (secret.length < 32 || secret === env.AUTH_DEV_SECRET))
    return bad("VENDOR_DEV_SECRET must be 32+ characters and differ from AUTH_DEV_SECRET");
  return { ok: true, source: { jwksUrl, secret, iss, aud } };
}

const complained = new Set<string>();
/** A misconfiguration is logged once per isolate (the Worker has no startup hook). */
function complain(message: string) {
  if (complained.has(message)) return;
  complained.add(message);
  console.error(JSON.stringify({ level: "error", msg: message }));
}

function refuse(message: string): never {
  complain(message);
  throw unauthorized(message);
}

/** Whether the token's exp is a number (hono calls a token with any other exp expired). */
function expIsNumber(token: string): boolean {
  try {
    return typeof (decode(token).payload as { exp?: unknown }).exp === "number";
  } catch {
    return false;
  }
}

function describe(e: unknown, token: string): string {
  const name = (e as Error)?.name ?? "";
  if (name === "JwtTokenExpired") return expIsNumber(token) ? "token has expired" : "token exp must be a number (seconds since the epoch)";
  if (name === "JwtTokenSignatureMismatched") return "token signature does not verify";
  if (name === "JwtTokenIssuer") return "token issuer is not accepted";
  if (name === "JwtTokenAudience") return "token audience is not accepted";
  if (name === "JwtAlgorithmNotAllowed" || name === "JwtAlgorithmMismatched") return "token algorithm is not accepted";
  if (name === "JwtHeaderRequiresKid") return "token has no key id (kid)";
  return "token is not a valid JWT";
}

/**
 * How far ahead of ours an issuer's clock may run and its fresh token still be taken (its iat
 * and nbf): a token minted a second "in the future" by a provider whose clock is a little fast
 * is normal, and was refused. exp gets none: an expired token is refused at once (fail closed).
 */
export const CLOCK_SKEW_SECONDS = 60;

/** iat and nbf, checked with CLOCK_SKEW_SECONDS (Hono's own check allows none). */
function assertValidYet(payload: Record<string, unknown>): void {
  const now = Math.floor(Date.now() / 1000);
  for (const claim of ["nbf", "iat"] as const) {
    const at = payload[claim];
    if (at === undefined) continue;
    if (typeof at !== "number" || !Number.isFinite(at)) throw unauthorized(`token ${claim} must be a number (seconds since the epoch)`);
    if (at > now + CLOCK_SKEW_SECONDS) throw unauthorized("token is not valid yet");
  }
}

async function payloadOf(token: string, source: Source): Promise<unknown> {
  const verification = {
    ...(source.iss ? { iss: source.iss } : {}),
    ...(source.aud ? { aud: source.aud } : {}),
    nbf: false,
    iat: false,
  };
  try {
    const payload = source.jwksUrl
      ? await verifyWithJwks(token, {
          keys: await keysFor(source.jwksUrl, (decode(token).header as { kid?: string }).kid),
          allowedAlgorithms: ["RS256", "ES256"],
          verification,
        })
      : await verify(token, source.secret!, { alg: "HS256", ...verification });
    assertValidYet(payload);
    return payload;
  } catch (e) {
    if (e instanceof CoreError) throw e;
    throw unauthorized(describe(e, token));
  }
}

function claimsOf<T extends z.ZodType>(schema: T, payload: unknown): z.infer<T> {
  const claims = schema.safeParse(payload);
  if (claims.success) return claims.data;
  throw new CoreError(
    "unauthorized",
    "token lacks required claims",
    claims.error.issues.map((i) => ({ field: i.path.join("."), message: i.message })),
  );
}

const scopeSet = (scope: string | undefined) => new Set((scope ?? "").split(" ").filter(Boolean));

/** The token is meant for the vendor audience (read before verifying only to pick the verifier, which then checks it). */
function addressedTo(token: string, audience: string): boolean {
  try {
    const aud = (decode(token).payload as { aud?: unknown }).aud;
    return aud === audience || (Array.isArray(aud) && aud.includes(audience));
  } catch {
    return false;
  }
}

async function verifyUncached(env: Env, token: string): Promise<{ verified: VerifiedToken; exp: number }> {
  const vendor = vendorSetup(env);
  if (vendor?.ok && addressedTo(token, vendor.source.aud!)) {
    const c = claimsOf(vendorClaims, await payloadOf(token, vendor.source));
    return { verified: { kind: "vendor", subject: c.sub, scopes: scopeSet(c.scope) }, exp: c.exp };
  }
  if (vendor && !vendor.ok) complain(vendor.message);
  const tenant = tenantSetup(env);
  if (!tenant.ok) refuse(tenant.message);
  const c = claimsOf(tenantClaims, await payloadOf(token, tenant.source));
  const principal: Principal = {
    tenantId: c.tenant_id,
    subject: c.sub,
    credential: "token",
    scopes: scopeSet(c.scope),
    roles: c.roles ?? [],
  };
  return { verified: { kind: "tenant", principal }, exp: c.exp };
}

// Verified tokens, by their exact text (signature included), for at most a minute and
// never past their expiry: an SDK or a login burst sends the same token many times.
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
const verified = new Map<string, { token: VerifiedToken; until: number; config: string }>();

const configKey = (env: Env) =>
  [
    env.AUTH_JWKS_URL,
    env.AUTH_ISSUER,
    env.AUTH_AUDIENCE,
    env.AUTH_DEV_SECRET ? "dev" : "",
    env.VENDOR_JWKS_URL,
    env.VENDOR_ISSUER,
    env.VENDOR_AUDIENCE,
    env.VENDOR_DEV_SECRET ? "vdev" : "",
  ].join("|");

/** Verify the token, or answer from the cache of recently verified tokens. */
export async function verifyToken(env: Env, token: string): Promise<VerifiedToken> {
  // The auth settings are part of the key, so a changed configuration never reuses a verdict.
  const config = configKey(env);
  const hit = verified.get(token);
  if (hit && hit.config === config && Date.now() < hit.until) return hit.token;
  const { verified: result, exp } = await verifyUncached(env, token);
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(token, { token: result, config, until: Math.min(exp * 1000, Date.now() + VERIFIED_TTL_MS) });
  return result;
}
