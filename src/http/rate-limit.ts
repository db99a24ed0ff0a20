// Per-tenant rate limits: a request spends one of its tenant's budget for the minute (the
// native API, seeds 001 and 004; analytics; SCIM, each apart) and, with an API key, one of
// the key's. Counted by RateLimiter objects (coordinator/rate-limiter.ts) through leases
// held in this isolate. Past a limit: 429 with Retry-After and RateLimit-* headers, in the
// surface's error format. Chosen over Cloudflare's Rate Limiting binding, whose limit is
// fixed per binding in wrangler.toml: here each tenant sets its own in its config.
import type { Context } from "hono";
import { heldSettings } from "../core/config";
import type { RateLimits } from "../core/config/rules";
import type { Principal, Scope } from "../core/shared/context";
import { CoreError } from "../core/shared/errors";
import { tenantScoped } from "../core/shared/ids";
import type { AppEnv } from "./app-env";

export type Budget = "interactive" | "analytics" | "scim";

const LIMIT_OF: Record<Budget, keyof RateLimits> = {
  interactive: "requestsPerMinute",
  analytics: "analyticsPerMinute",
  scim: "scimPerMinute",
};

const WINDOW_MS = 60_000;
/** A lease is this share of the limit: one call to the counter per that many requests of an isolate. */
const LEASE_SHARE = 100;

interface Held {
  window: number;
  /** The limit it was leased under: a changed limit takes a new lease at once. */
  limit: number;
  left: number;
  /** What the counter said the window had left at the last lease (0: the window is spent). */
  remaining: number;
}
const leases = new Map<string, Held>();
/** One lease at a time per counter: a burst of requests in a cold isolate waits for it rather than each taking one. */
const leasing = new Map<string, Promise<{ held: Held; granted: number }>>();

interface Verdict {
  ok: boolean;
  limit: number;
  remaining: number;
}

async function newLease(scope: Scope, name: string, limit: number, window: number) {
  const ns = scope.env.RATE_LIMITER;
  const lease = await ns.get(ns.idFromName(name)).lease(window, Math.max(1, Math.floor(limit / LEASE_SHARE)), limit);
  const held = { window: lease.window, limit, left: lease.granted, remaining: lease.remaining };
  if (leases.size > 10_000) leases.clear();
  leases.set(name, held);
  return { held, granted: lease.granted };
}

async function take(scope: Scope, name: string, limit: number, window: number): Promise<Verdict> {
  for (;;) {
    const held = leases.get(name);
    // A lease of a later minute also serves a request that read the clock before that minute began.
    if (held && held.window >= window && held.limit === limit) {
      if (held.left > 0) {
        held.left -= 1;
        return { ok: true, limit, remaining: held.remaining + held.left };
      }
      // Spent in this isolate, and nothing left at the counter at the last lease: no need to ask again this minute.
      if (held.remaining === 0) return { ok: false, limit, remaining: 0 };
    }
    let pending = leasing.get(name);
    if (!pending) {
      pending = newLease(scope, name, limit, window).finally(() => leasing.delete(name));
      leasing.set(name, pending);
    }
    // Others waiting on the same lease may spend it first: then take the next one.
    const { held: fresh, granted } = await pending;
    if (granted === 0 && fresh.window >= window && fresh.limit === limit) return { ok: false, limit, remaining: 0 };
  }
}

/** Spend one request of the tenant's budget (and of its API key's), or refuse with 429. */
export async function limitRequest(c: Context<AppEnv>, scope: Scope, principal: Principal, budget: Budget) {
  const now = Date.now();
  const window = Math.floor(now / WINDOW_MS);
  const limits = (await heldSettings(scope.db, scope.tenantId)).rateLimits;
  const checks = [take(scope, tenantScoped(scope.tenantId, `~rate:${budget}`), limits[LIMIT_OF[budget]], window)];
  if (principal.credential === "api_key") {
    checks.push(take(scope, tenantScoped(scope.tenantId, `~rate:${principal.subject}`), limits.perApiKeyPerMinute, window));
  }
  const verdicts = await Promise.all(checks);
  const tightest = verdicts.reduce((a, b) => (!b.ok || b.remaining < a.remaining ? b : a));
  const reset = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
  c.header("RateLimit-Limit", String(tightest.limit));
  c.header("RateLimit-Remaining", String(tightest.remaining));
  c.header("RateLimit-Reset", String(reset));
  if (verdicts.every((v) => v.ok)) return;
  c.header("Retry-After", String(reset));
  const which = verdicts[0]!.ok ? "this API key's" : `the tenant's ${budget}`;
  throw new CoreError("rate_limited", `${which} limit of ${tightest.limit} requests a minute is spent; retry in ${reset} s`, [
    { field: "rate limit", message: `retry after ${reset} s`, retry_after: reset },
  ]);
}
