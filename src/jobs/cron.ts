// The crons (wrangler.toml [triggers]). Every minute: moves left unfinished go on, then on each shard the webhook
// outbox sweep, the rule work requests left owed (core/rules/owed.ts), and with what is left, the retention purges
// (analytics messageIds, idempotency keys, events, settled webhook deliveries), so no daily volume outgrows them.
// Daily: the purges alone, with a whole run's budget. The shards' jobs span the tenants of one database each; a run
// is one invocation, so all of it shares Cloudflare's 1,000 subrequests.
import { purgeExpiredEvents } from "../core/events/retention";
import { purgeIdempotencyKeys } from "../core/idempotency";
import { sweepOwedRules } from "../core/rules";
import { CRON_MOVE_BUDGET, resumeMoves } from "../core/shards";
import { shardBinding, shardNames } from "../core/shards/bindings";
import { Budget } from "../core/shared/budget";
import { type Db, database } from "../core/shared/context";
import { purgeSeenMessages } from "../core/tracking";
import { purgeDeliveries, sweepWebhooks, WEBHOOK_SWEEP_CRON } from "../core/webhooks";
import type { Env } from "../env";
import { watchedEnv } from "../http/watched-bindings";

/** What a run spends of its invocation's 1,000 subrequests; the rest is margin for calls no budget counts (the moves' list). */
export const CRON_SUBREQUESTS = 950;

type Purge = (db: Db, now: number, budget: Budget) => Promise<number>;
const PURGES: [name: string, purge: Purge][] = [
  ["messageIds", purgeSeenMessages],
  ["idempotency_keys", purgeIdempotencyKeys],
  ["events", purgeExpiredEvents],
  ["webhook_deliveries", purgeDeliveries],
];

/** The retention purges, in slices, within the share: each an equal part of what is left; the rest waits for the next run. */
async function purges(db: Db, shard: string, share: Budget) {
  const purged: Record<string, number> = {};
  for (const [i, [name, purge]] of PURGES.entries())
    purged[name] = await purge(db, Date.now(), share.part(Math.floor(share.left / (PURGES.length - i))));
  if (Object.values(purged).some((n) => n > 0)) console.log(JSON.stringify({ msg: "purged past their retention", shard, ...purged }));
}

/** On one shard, within its share: the webhook sweep (half of the share at most), the owed rule work, then the purges. */
async function minuteJobs(env: Env, db: Db, shard: string, share: Budget) {
  const swept = await sweepWebhooks(db, env.WEBHOOKS, Date.now(), undefined, share.part(Math.floor(share.left / 2)));
  if (swept.dispatched || swept.resent) console.log(JSON.stringify({ msg: "webhook sweep", shard, ...swept }));
  const owed = await sweepOwedRules(env, db, Date.now(), share);
  if (owed.profiles || owed.groups) console.log(JSON.stringify({ msg: "owed rule work finished", shard, ...owed }));
  await purges(db, shard, share);
}

/** The shards in this minute's turn: each run starts one further along, so no shard is always the one whose share is left last. */
function inTurn<T>(shards: T[], scheduledTime: number): T[] {
  const first = Math.floor(scheduledTime / 60_000) % shards.length;
  return [...shards.slice(first), ...shards.slice(0, first)];
}

type Run = (job: string, work: () => Promise<void>) => Promise<void>;

/** `jobs` on every shard, each shard an equal share of what the budget has left (what one leaves goes to those after it). */
async function onEveryShard(
  env: Env,
  budget: Budget,
  scheduledTime: number,
  run: Run,
  jobs: (env: Env, db: Db, shard: string, share: Budget) => Promise<void>,
) {
  const counted = watchedEnv(env, { call: () => budget.take() });
  const shards = inTurn(shardNames(env), scheduledTime);
  for (const [i, shard] of shards.entries()) {
    const share = budget.part(Math.floor(budget.left / (shards.length - i)));
    // The binding is looked up inside the job: a shard SHARDS names but the deployment lacks fails alone.
    await run(shard, () => jobs(counted, database(shardBinding(counted, shard)), shard, share));
  }
}

async function everyMinute(env: Env, run: Run, scheduledTime: number) {
  const budget = new Budget(CRON_SUBREQUESTS);
  // Moves count their own calls against their part.
  await run("moves", () => resumeMoves(env, budget.part(CRON_MOVE_BUDGET)).then(() => undefined));
  await onEveryShard(env, budget, scheduledTime, run, minuteJobs);
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
  else
    await onEveryShard(env, new Budget(CRON_SUBREQUESTS), controller.scheduledTime, run, (_env, db, shard, share) =>
      purges(db, shard, share),
    );
  if (failed.length > 0) {
    const which = failed.map((f) => `${f.job} (${why(f.error)})`).join(", ");
    throw new AggregateError(
      failed.map((f) => f.error),
      `cron ${controller.cron}: failed: ${which}`,
    );
  }
}
