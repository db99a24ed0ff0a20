import type { Principal, Scope } from "../core/shared/context";
import type { Env } from "../env";

/** Hono's type parameters for every app and middleware of the Worker. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    principal: Principal;
    scope: Scope;
    requestId: string;
    /** Set by secureHeaders where a CSP names NONCE (/docs). */
    secureHeadersNonce?: string;
  };
}
