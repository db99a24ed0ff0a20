import type { ClaimsWriter } from "./coordinator/claims-writer";
import type { GroupCoordinator } from "./coordinator/group-coordinator";
import type { RateLimiter } from "./coordinator/rate-limiter";
import type { WebhookMessage } from "./core/webhooks/rules";

// The Worker's bindings and settings (wrangler.toml, .dev.vars, or secrets).
export interface Env {
  /**
   * The shards: D1 bindings (DB, DB_2, ...) named, in order, in SHARDS. Only core/shards reads
   * them: every other path gets its tenant's database from tenantDatabase (core/shards/directory.ts).
   */
  SHARDS?: string;
  /** The control database: which shard each tenant lives on, API keys' tenants, moves. */
  CONTROL: D1Database;
  /** How long an isolate trusts the directory, in ms (default 5,000); a move waits this long before writes resume. */
  SHARD_DIRECTORY_TTL_MS?: string;
  CLAIMS: KVNamespace;
  GROUP_COORDINATOR: DurableObjectNamespace<GroupCoordinator>;
  /** The writers of users' claims in KV (coordinator/claims-writer.ts). */
  CLAIMS_WRITER: DurableObjectNamespace<ClaimsWriter>;
  /** The per-minute request counts of tenants' budgets and API keys (coordinator/rate-limiter.ts). */
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** Webhook deliveries: one message per endpoint and event (core/webhooks). */
  WEBHOOKS: Queue<WebhookMessage>;
  /** Local runs only: "true" lets webhooks point at http://127.0.0.1 and http://localhost (see .dev.vars.example). */
  WEBHOOKS_ALLOW_LOCAL_HTTP?: string;
  /** The first retry's delay in seconds (default 30); each next one doubles, up to 6 hours. */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  /** Production auth: RS256/ES256 tokens checked against this JWKS. */
  AUTH_JWKS_URL?: string;
  AUTH_ISSUER?: string;
  AUTH_AUDIENCE?: string;
  /** Local runs only: HS256 tokens signed with this secret (see .dev.vars.example). */
  AUTH_DEV_SECRET?: string;
  /**
   * Vendor tokens (off unless set): the operator's tokens that may act for a tenant they
   * name (seed 001's frontegg-tenant-id). VENDOR_ISSUER and VENDOR_AUDIENCE are required,
   * with VENDOR_JWKS_URL (production) or VENDOR_DEV_SECRET (local runs only).
   */
  VENDOR_JWKS_URL?: string;
  VENDOR_ISSUER?: string;
  VENDOR_AUDIENCE?: string;
  VENDOR_DEV_SECRET?: string;
  /** "off": no log line per request (tests, benchmarks); failures are logged regardless. */
  REQUEST_LOG?: string;
  /** JSON object of tenant id → shared secret for identity-provider token hooks. */
  HOOK_SECRETS?: string;
}
