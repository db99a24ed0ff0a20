import { canonicalScimRequest } from "./api/scim/canonical-path";
import { buildApp } from "./app";
import { purgeExpiredEvents } from "./core/events/retention";
import { purgeIdempotencyKeys } from "./core/idempotency";
import { sweepOwedRules } from "./core/rules";
import { resumeMoves } from "./core/shards";
import { everyShard } from "./core/shards/bindings";
import { type Db, database, tenantDb } from "./core/shared/context";
import { purgeSeenMessages } from "./core/tracking";
import { deliver, purgeDeliveries, sweepWebhooks, WEBHOOK_LIMITS, WEBHOOK_SWEEP_CRON, type WebhookMessage } from "./core/webhooks";
import type { Env } from "./env";

const retryBase = (env: Env) => Number(env.WEBHOOK_RETRY_BASE_SECONDS) || WEBHOOK_LIMITS.defaultBaseDelaySeconds;

export { ClaimsWriter } from "./coordinator/claims-writer";
export { GroupCoordinator } from "./coordinator/group-coordinator";
export { RateLimiter } from "./coordinator/rate-limiter";

const app = buildApp();

async function minuteJobs(env: Env, db: Db, shard: string) {
  const swept = await sweepWebhooks(db, env.WEBHOOKS);
  if (swept.dispatched || swept.resent) console.log(JSON.stringify({ msg: "webhook sweep", shard, ...swept }));
  const owed = await sweepOwedRules(env, db);
  if (owed.profiles || owed.groups) console.log(JSON.stringify({ msg: "owed rule work finished", shard, ...owed }));
}

async function dailyJobs(db: Db, shard: string) {
  const purged = await purgeSeenMessages(db);
  const keys = await purgeIdempotencyKeys(db);
  const events = await purgeExpiredEvents(db);
  const deliveries = await purgeDeliveries(db);
  console.log(
    JSON.stringify({
      msg: "purged seen messageIds, idempotency keys, events and webhook deliveries",
      shard,
      purged,
      keys,
      events,
      deliveries,
    }),
  );
}

export default {
  fetch: (request, env, ctx) => app.fetch(canonicalScimRequest(request), env, ctx),
  // Every minute (wrangler.toml [triggers]): the webhook outbox sweep, and the rule work requests left owed (core/rules/owed.ts).
  // Daily: forget analytics messageIds, idempotency keys, events and settled webhook deliveries past their retention.
  // Each shard is swept on its own: these jobs span the tenants of one database.
  scheduled: async (controller, env, _ctx) => {
    // One job's failure (a shard's, say) leaves the others to run; the invocation still fails, so it shows.
    const failed: { job: string; error: unknown }[] = [];
    const run = async (what: string, job: () => Promise<void>) => {
      try {
        await job();
      } catch (e) {
        console.error(JSON.stringify({ level: "error", msg: "a cron job failed", job: what, cron: controller.cron, error: String(e) }));
        failed.push({ job: what, error: e });
      }
    };
    // Moves a request left unfinished (or a crash cut off) go on.
    if (controller.cron === WEBHOOK_SWEEP_CRON) await run("moves", () => resumeMoves(env).then(() => undefined));
    for (const shard of everyShard(env)) {
      const db = database(shard.d1);
      await run(shard.name, () => (controller.cron === WEBHOOK_SWEEP_CRON ? minuteJobs(env, db, shard.name) : dailyJobs(db, shard.name)));
    }
    if (failed.length > 0) {
      const which = failed.map((f) => `${f.job} (${f.error instanceof Error ? f.error.message : String(f.error)})`).join(", ");
      throw new AggregateError(
        failed.map((f) => f.error),
        `cron ${controller.cron}: failed: ${which}`,
      );
    }
  },
  // Webhook deliveries (core/webhooks/delivery.ts): each message is acknowledged or retried with its backoff.
  // A batch may hold several tenants' messages: each tenant's go to its own shard.
  queue: async (batch, env) => {
    const byTenant = new Map<string, (typeof batch.messages)[number][]>();
    for (const m of batch.messages) byTenant.set(m.body.tenant, [...(byTenant.get(m.body.tenant) ?? []), m]);
    for (const [tenantId, messages] of byTenant) {
      try {
        const outcomes = await deliver(
          await tenantDb(env, tenantId),
          messages.map((m) => m.body),
          retryBase(env),
        );
        messages.forEach((m, i) => {
          const o = outcomes[i]!;
          if (o.settle) m.ack();
          else m.retry({ delaySeconds: o.delaySeconds });
        });
      } catch (e) {
        // One tenant's failure (its shard unreachable, say) retries its messages only; the other tenants' go on.
        console.error(JSON.stringify({ level: "error", msg: "webhook delivery failed; retried", tenant: tenantId, error: String(e) }));
        for (const m of messages) m.retry({ delaySeconds: retryBase(env) });
      }
    }
  },
} satisfies ExportedHandler<Env, WebhookMessage>;
