import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { TokenSource } from "../../auth/middleware";
import { bearerToken } from "../../auth/middleware";
import { CoreError } from "../../core/shared/errors";
import { assertOnlyTrackingScopes } from "../../core/shared/scopes";
import type { AppEnv } from "../../http/app-env";
import { readJsonBody, readPixelData } from "./body";

/**
 * Segment-style SDKs send the write key as the user name of HTTP Basic auth; here the
 * write key is an API key (or a token) of the tenant. A Bearer header works too.
 */
export const writeKeyOrBearer = (c: Context<AppEnv>): string | undefined => {
  const header = c.req.header("authorization") ?? "";
  const basic = header.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (basic) {
    try {
      const decoded = atob(basic[1]!);
      const user = decoded.slice(0, decoded.includes(":") ? decoded.indexOf(":") : undefined);
      return user || undefined;
    } catch {
      return undefined;
    }
  }
  return bearerToken(c);
};

/** The body's top-level writeKey, if it parses and has one (a body that does not parse is refused later, after the credential). */
async function bodyWriteKey(c: Context<AppEnv>): Promise<string | undefined> {
  const body = await readJsonBody(c).catch(() => undefined);
  const key = body && typeof body === "object" && !Array.isArray(body) ? (body as { writeKey?: unknown }).writeKey : undefined;
  return typeof key === "string" && key !== "" ? key : undefined;
}

/** A header's key and a second one: the same key twice is one credential; two different ones are refused, neither picked. */
function oneCredential(header: string | undefined, other: string | undefined, otherPlace: string) {
  if (header !== undefined && other !== undefined && header !== other) {
    throw new CoreError("unauthorized", `the Authorization header and ${otherPlace} are different credentials: send one`);
  }
  return header ?? other;
}

/**
 * Segment's HTTP API also takes the write key as `writeKey` in the body, and its browser SDK
 * sends it there (as well as in the header).
 */
export const segmentWriteKey: TokenSource = async (c) => oneCredential(writeKeyOrBearer(c), await bodyWriteKey(c), "the body's writeKey");

const urlWriteKey = (c: Context<AppEnv>) => c.req.query("writeKey") || undefined;

/** A beacon's write key: ?writeKey= in the URL (navigator.sendBeacon sends no header), or a header's. */
export const beaconWriteKey: TokenSource = (c) => oneCredential(writeKeyOrBearer(c), urlWriteKey(c), "the URL's writeKey");

/** A tracking pixel's write key: the writeKey of its ?data= call (an image request sends no header), or a header's. */
export const pixelWriteKey: TokenSource = (c) => oneCredential(writeKeyOrBearer(c), pixelDataWriteKey(c), "the pixel's writeKey");

function pixelDataWriteKey(c: Context<AppEnv>): string | undefined {
  let key: unknown;
  try {
    key = readPixelData(c).writeKey;
  } catch {
    return undefined; // data that does not parse carries no key: refused as unauthenticated first, then as invalid
  }
  return typeof key === "string" && key !== "" ? key : undefined;
}

/** The rule for a credential in a URL (core/shared/scopes.ts), where keyInUrl finds one. */
const urlKeyTracksOnly = (keyInUrl: (c: Context<AppEnv>) => string | undefined) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (keyInUrl(c) !== undefined) assertOnlyTrackingScopes(c.var.principal);
    await next();
  });

export const beaconKeyTracksOnly = urlKeyTracksOnly(urlWriteKey);
export const pixelKeyTracksOnly = urlKeyTracksOnly(pixelDataWriteKey);
