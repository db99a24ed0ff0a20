// One Durable Object per tenant and budget (and per API key): the count of a minute's
// requests. Isolates do not ask it per request: each takes a lease of a few requests and
// spends it locally (http/rate-limit.ts), so one call here covers many requests, and the
// requests let through in a minute never exceed the limit. The count lives in memory: an
// object evicted mid-minute starts that minute afresh, which lets more through, never fewer.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

export interface Lease {
  /** Requests the caller may let through in this window. */
  granted: number;
  /** What the window has left after this lease. */
  remaining: number;
  /** The window it was counted in: the caller's, or a later one the count has moved on to. */
  window: number;
}

export class RateLimiter extends DurableObject<Env> {
  private window = 0;
  private used = 0;

  /** Up to `want` of the window's `limit` requests. */
  lease(window: number, want: number, limit: number): Lease {
    if (window > this.window) {
      this.window = window;
      this.used = 0;
    }
    // A request that read the clock just before the minute turned, arriving after another that read it after:
    // counted in the new minute, so it is neither refused for a minute already over nor let past the limit.
    const granted = Math.max(0, Math.min(want, limit - this.used));
    this.used += granted;
    return { granted, remaining: Math.max(0, limit - this.used), window: this.window };
  }
}
