import type { Principal } from "./context";
import { CoreError } from "./errors";

export const SCOPES = {
  read: "groups:read",
  write: "groups:write",
  claims: "claims:read",
  scim: "scim",
  /** Okta's token inline hook, called with an API key (POST /hooks/okta/token). */
  hooks: "hooks",
  /** The change stream (GET /v1/events). */
  events: "events:read",
  admin: "admin",
} as const;

/** The scopes of seed 002's group calls and the Segment routes; admin implies them. */
export const TRACKING_SCOPES = ["group_api", "telemetry_apis"] as const;

/** Every scope a route asks for: what an API key may be given. */
export const KNOWN_SCOPES = [...Object.values(SCOPES), ...TRACKING_SCOPES] as const;
export type KnownScope = (typeof KNOWN_SCOPES)[number];

/** Whether the principal holds one of these scopes; `admin` implies every scope of its own tenant. */
export function holdsScope(principal: Pick<Principal, "scopes">, anyOf: readonly string[]): boolean {
  return principal.scopes.has(SCOPES.admin) || anyOf.some((s) => principal.scopes.has(s));
}

/**
 * A credential sent in a URL (a beacon's or a tracking pixel's write key) lands in access logs,
 * proxies and browser history: it may only send analytics calls, whatever its tenant.
 */
export function assertOnlyTrackingScopes(principal: Pick<Principal, "scopes">) {
  const scopes = [...principal.scopes];
  if (scopes.every((s) => (TRACKING_SCOPES as readonly string[]).includes(s))) return;
  throw new CoreError(
    "forbidden",
    `a write key in the URL may carry only the scopes ${TRACKING_SCOPES.join(" and ")}; this one carries ${scopes.join(", ")}`,
  );
}

export function assertScope(principal: Principal, anyOf: readonly string[]) {
  if (holdsScope(principal, anyOf)) return;
  throw new CoreError("forbidden", `this call needs the scope ${anyOf.map((s) => `'${s}'`).join(" or ")}`);
}
