import type { Principal, Scope } from "../core/shared/context";
import type { Env } from "../env";
import type { RequestSessions } from "./d1-session";

/** Hono's type parameters for every app and middleware of the Worker. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    principal: Principal;
    scope: Scope;
    requestId: string;
    /** The request's D1 session (http/d1-session.ts), opened on the tenant's shard. */
    sessions: RequestSessions;
    /** The operator's subject, on the vendor-only routes (api/vendor). */
    vendor?: string;
    /** Set by secureHeaders where a CSP names NONCE (/docs). */
    secureHeadersNonce?: string;
  };
}
