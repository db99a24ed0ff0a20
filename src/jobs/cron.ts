// The crons (wrangler.toml [triggers]). Every minute: moves left unfinished go on, then on each shard the webhook
// outbox sweep and the rule work requests left owed (core/rules/owed.ts). Daily: forget analytics messageIds,
// idempotency keys, events and settled webhook deliveries past their retention. The shards' jobs span the tenants
// of one database each; a run is one invocation, so all of it shares Cloudflare's 1,000 subrequests.
import { purgeExpiredEvents } from "../core/events/retention";
import { purgeIdempotencyKeys } from "../core/idempotency";
import { sweepOwedRules } from "../core/rules";
import { CRON_MOVE_BUDGET, resumeMoves } from "../core/shards";
import { everyShard } from "../core/shards/bindings";
import { Budget } from "../core/shared/budget";
import { type Db, database } from "../core/shared/context";
import { purgeSeenMessages } from "../core/tracking";
import { purgeDeliveries, sweepWebhooks, WEBHOOK_SWEEP_CRON } from "../core/webhooks";
import type { Env } from "../env";
import { watchedEnv } from "../http/watched-bindings";

/** What the per-minute run spends of its invocation's 1,000 subrequests; the rest is margin for calls no budget counts (the moves' list). */
export const CRON_SUBREQUESTS = 950;

/** On one shard, within its share: the webhook sweep (half of the share at most), then the owed rule work. */
async function minuteJobs(env: Env, db: Db, shard: string, share: Budget) {
  const swept = await sweepWebhooks(db, env.WEBHOOKS, Date.now(), undefined, share.part(Math.floor(share.left / 2)));
  if (swept.dispatched || swept.resent) console.log(JSON.stringify({ msg: "webhook sweep", shard, ...swept }));
  const owed = await sweepOwedRules(env, db, Date.now(), share);
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

/** The shards in this minute's turn: each run starts one further along, so no shard is always the one whose share is left last. */
function inTurn<T>(shards: T[], scheduledTime: number): T[] {
  const first = Math.floor(scheduledTime / 60_000) % shards.length;
  return [...shards.slice(first), ...shards.slice(0, first)];
}

async function everyMinute(env: Env, run: (job: string, work: () => Promise<void>) => Promise<void>, scheduledTime: number) {
  const budget = new Budget(CRON_SUBREQUESTS);
  // Moves count their own calls against their part.
  await run("moves", () => resumeMoves(env, budget.part(CRON_MOVE_BUDGET)).then(() => undefined));
  const counted = watchedEnv(env, { call: () => budget.take() });
  const shards = inTurn(everyShard(counted), scheduledTime);
  for (const [i, shard] of shards.entries()) {
    // An equal share of what is left: what one shard leaves goes to those after it.
    const share = budget.part(Math.floor(budget.left / (shards.length - i)));
    await run(shard.name, () => minuteJobs(counted, database(shard.d1), shard.name, share));
  }
}

/** An error in one line, with its cause: drizzle's "Failed query" (its SQL on the lines after) says why only in its cause. */
function why(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const first = e.message.split("\n")[0]!.replace(/:\s*$/, "");
  return e.cause instanceof Error ? `${first}: ${e.cause.message}` : first;
}

export async function runCron(controller: ScheduledController, env: Env) {
  // One job's failure (a shard's, say) leaves the others to run; the invocation still fails, so it shows.
  const failed: { job: string; error: unknown }[] = [];
  const run = async (job: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (e) {
      console.error(JSON.stringify({ level: "error", msg: "a cron job failed", job, cron: controller.cron, error: why(e) }));
      failed.push({ job, error: e });
    }
  };
  if (controller.cron === WEBHOOK_SWEEP_CRON) await everyMinute(env, run, controller.scheduledTime);
  else for (const shard of everyShard(env)) await run(shard.name, () => dailyJobs(database(shard.d1), shard.name));
  if (failed.length > 0) {
    const which = failed.map((f) => `${f.job} (${why(f.error)})`).join(", ");
    throw new AggregateError(
      failed.map((f) => f.error),
      `cron ${controller.cron}: failed: ${which}`,
    );
  }
}
