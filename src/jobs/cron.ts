// The crons (wrangler.toml [triggers]). Every minute: moves left unfinished go on, then on each shard the webhook
// outbox sweep and the rule work requests left owed (core/rules/owed.ts). Daily: forget analytics messageIds,
// idempotency keys, events and settled webhook deliveries past their retention. The shards' jobs span the tenants
// of one database each.
import { purgeExpiredEvents } from "../core/events/retention";
import { purgeIdempotencyKeys } from "../core/idempotency";
import { sweepOwedRules } from "../core/rules";
import { resumeMoves } from "../core/shards";
import { everyShard } from "../core/shards/bindings";
import { type Db, database } from "../core/shared/context";
import { purgeSeenMessages } from "../core/tracking";
import { purgeDeliveries, sweepWebhooks, WEBHOOK_SWEEP_CRON } from "../core/webhooks";
import type { Env } from "../env";

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

export async function runCron(controller: ScheduledController, env: Env) {
  // One job's failure (a shard's, say) leaves the others to run; the invocation still fails, so it shows.
  const failed: { job: string; error: unknown }[] = [];
  const run = async (job: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (e) {
      console.error(JSON.stringify({ level: "error", msg: "a cron job failed", job, cron: controller.cron, error: String(e) }));
      failed.push({ job, error: e });
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
}
