import { canonicalScimRequest } from "./api/scim/canonical-path";
import { buildApp } from "./app";
import type { WebhookMessage } from "./core/webhooks";
import type { Env } from "./env";
import { runCron } from "./jobs/cron";
import { consumeWebhooks } from "./jobs/webhook-consumer";

export { ClaimsWriter } from "./coordinator/claims-writer";
export { GroupCoordinator } from "./coordinator/group-coordinator";
export { RateLimiter } from "./coordinator/rate-limiter";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(canonicalScimRequest(request), env, ctx),
  // Every minute and daily (wrangler.toml [triggers]): jobs/cron.ts.
  scheduled: (controller, env, _ctx) => runCron(controller, env),
  // Webhook deliveries: jobs/webhook-consumer.ts.
  queue: (batch, env) => consumeWebhooks(batch, env),
} satisfies ExportedHandler<Env, WebhookMessage>;
