import type { GroupCoordinator } from "./coordinator/group-coordinator";

// The Worker's bindings and settings (wrangler.toml, .dev.vars, or secrets).
export interface Env {
  DB: D1Database;
  CLAIMS: KVNamespace;
  GROUP_COORDINATOR: DurableObjectNamespace<GroupCoordinator>;
  /** Production auth: RS256/ES256 tokens checked against this JWKS. */
  AUTH_JWKS_URL?: string;
  AUTH_ISSUER?: string;
  AUTH_AUDIENCE?: string;
  /** Local runs only: HS256 tokens signed with this secret (see .dev.vars.example). */
  AUTH_DEV_SECRET?: string;
  /** JSON object of tenant id → shared secret for identity-provider token hooks. */
  HOOK_SECRETS?: string;
}
