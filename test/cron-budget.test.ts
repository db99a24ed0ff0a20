import { describe, expect, it } from "vitest";
import { owedToken } from "../src/core/rules";
import { shardBinding, shardNames } from "../src/core/shards/bindings";
import { Budget } from "../src/core/shared/budget";
import { database } from "../src/core/shared/context";
import { PURGE_SLICE } from "../src/core/shared/retention";
import { purgeSeenMessages } from "../src/core/tracking";
import { WEBHOOK_SWEEP_CRON } from "../src/core/webhooks";
import { watchedEnv } from "../src/http/watched-bindings";
import { env, freshTenant, placeInDirectory, runCron } from "./helpers";
import { limitedEnv, newInvocation, PLATFORM_LIMITS } from "./limits/platform-limits";

const TENANTS_PER_SHARD = 50;
const WITH_WEBHOOKS = 25;

/**
 * On every shard, TENANTS_PER_SHARD tenants, each with a profile and a group whose rule work a request left owed two
 * minutes ago; the first WITH_WEBHOOKS of them also with an endpoint and three events not yet in its outbox.
 */
async function backlog() {
  const longAgo = owedToken(Date.now() - 120_000);
  const tenants: { tenant: string; shard: string; hooked: boolean }[] = [];
  for (const shard of shardNames(env)) {
    const db = shardBinding(env, shard);
    const statements: D1PreparedStatement[] = [];
    for (let i = 0; i < TENANTS_PER_SHARD; i++) {
      const tenant = freshTenant(`cron-${shard}`);
      const hooked = i < WITH_WEBHOOKS;
      tenants.push({ tenant, shard, hooked });
      await placeInDirectory(tenant, shard);
      statements.push(
        db
          .prepare("INSERT INTO users (tenant_id, id, rules_owed, created_at, updated_at) VALUES (?, 'ann', ?, 0, 0)")
          .bind(tenant, longAgo + i),
        db
          .prepare(
            "INSERT INTO groups (tenant_id, id, name, name_key, rule_owed, created_at, updated_at) VALUES (?, 'g', 'G', 'g', ?, 0, 0)",
          )
          .bind(tenant, longAgo + i),
      );
      if (hooked)
        statements.push(
          db
            .prepare(
              `INSERT INTO webhook_endpoints (tenant_id, id, url, secret, enqueued_through, created_by, created_at, updated_at)
               VALUES (?, 'hook', ?, 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3', 0, 'test', 0, 0)`,
            )
            .bind(tenant, `https://hooks.test/ok/${tenant}`),
          db
            .prepare(
              `INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, detail)
               SELECT ?, 'ev-' || value, ?, 'arranged', 'native', 'group.update', 'group', 'g', '{}' FROM json_each('[1,2,3]')`,
            )
            .bind(tenant, Date.now()),
        );
    }
    await db.batch(statements);
  }
  return tenants;
}

/** What the tenants still owe: marks not cleared, endpoints whose outbox lags their events. */
async function owing(tenants: { tenant: string; shard: string }[]) {
  let marks = 0;
  let lagging = 0;
  for (const shard of shardNames(env)) {
    const ids = JSON.stringify(tenants.filter((t) => t.shard === shard).map((t) => t.tenant));
    const db = shardBinding(env, shard);
    const [m, l] = await db.batch<{ n: number }>([
      db
        .prepare(
          `SELECT (SELECT count(*) FROM users WHERE tenant_id IN (SELECT value FROM json_each(?1)) AND rules_owed IS NOT NULL)
              + (SELECT count(*) FROM groups WHERE tenant_id IN (SELECT value FROM json_each(?1)) AND rule_owed IS NOT NULL) AS n`,
        )
        .bind(ids),
      db
        .prepare(
          `SELECT count(*) AS n FROM webhook_endpoints e WHERE e.tenant_id IN (SELECT value FROM json_each(?))
           AND e.enqueued_through < (SELECT max(cursor) FROM audit_log a WHERE a.tenant_id = e.tenant_id)`,
        )
        .bind(ids),
    ]);
    marks += m!.results[0]!.n;
    lagging += l!.results[0]!.n;
  }
  return { marks, lagging };
}

describe("the per-minute cron within one invocation's subrequests", () => {
  it("sweeps a backlog on every shard over several runs, each run under 1,000 subrequests, none of them failing", async () => {
    const tenants = await backlog();
    expect(await owing(tenants)).toEqual({
      marks: 2 * TENANTS_PER_SHARD * shardNames(env).length,
      lagging: WITH_WEBHOOKS * shardNames(env).length,
    });
    const peak = { value: 0 };
    let runs = 0;
    for (; runs < 10; runs++) {
      const left = await owing(tenants);
      if (left.marks === 0 && left.lagging === 0) break;
      // Throws when a job failed. The owed rule work postpones a unit that fails (the limit's refusal too), so the
      // peak below is what shows a breach.
      await runCron(WEBHOOK_SWEEP_CRON, { env: limitedEnv(env, newInvocation(peak)) });
    }
    expect(await owing(tenants)).toEqual({ marks: 0, lagging: 0 });
    expect(peak.value).toBeGreaterThan(0);
    expect(peak.value).toBeLessThanOrEqual(PLATFORM_LIMITS.subrequests);
    // The backlog is more than one run may do.
    expect(runs).toBeGreaterThan(1);
  });

  it("one shard's failing jobs leave the other shards' to run, and the run reports the one that failed", async () => {
    const longAgo = owedToken(Date.now() - 120_000);
    const marked: Record<string, string> = {};
    for (const shard of shardNames(env)) {
      const tenant = freshTenant(`cron-fault-${shard}`);
      marked[shard] = tenant;
      await placeInDirectory(tenant, shard);
      await shardBinding(env, shard)
        .prepare("INSERT INTO groups (tenant_id, id, name, name_key, rule_owed, created_at, updated_at) VALUES (?, 'g', 'G', 'g', ?, 0, 0)")
        .bind(tenant, longAgo)
        .run();
    }
    // DB_2 unreachable: every call to it fails, as in an outage of that database.
    const outage = () => Promise.reject(new Error("D1_ERROR: Network connection lost."));
    const down = {
      prepare: () => ({ bind: () => ({ all: outage, first: outage, run: outage, raw: outage }), all: outage, first: outage, run: outage }),
      batch: outage,
      exec: outage,
      withSession() {
        return this;
      },
    } as unknown as D1Database;
    // Minute 1: the run's turn starts at the second shard, DB_2, so the others' jobs come after its failure.
    await expect(runCron(WEBHOOK_SWEEP_CRON, { env: { ...env, DB_2: down } as typeof env, scheduledTime: 60_000 })).rejects.toThrow(
      "cron * * * * *: failed: DB_2 (Failed query: D1_ERROR: Network connection lost.)",
    );
    const mark = async (shard: string) =>
      (await shardBinding(env, shard)
        .prepare("SELECT rule_owed FROM groups WHERE tenant_id = ? AND id = 'g'")
        .bind(marked[shard])
        .first<{ rule_owed: number | null }>())!.rule_owed;
    expect(await mark("DB")).toBeNull();
    expect(await mark("DB_3")).toBeNull();
    expect(await mark("DB_2")).toBe(longAgo);

    // A shard SHARDS names but the deployment has no binding for: it fails alone too, the others' jobs done.
    await shardBinding(env, "DB_3")
      .prepare("UPDATE groups SET rule_owed = ? WHERE tenant_id = ? AND id = 'g'")
      .bind(longAgo, marked.DB_3)
      .run();
    const missing = { ...env, SHARDS: "DB DB_4 DB_3" } as typeof env;
    await expect(runCron(WEBHOOK_SWEEP_CRON, { env: missing, scheduledTime: 60_000 })).rejects.toThrow(
      /^cron \* \* \* \* \*: failed: DB_4 \(shard DB_4 is not a D1 binding of this Worker/,
    );
    expect(await mark("DB_3")).toBeNull();
  });

  it("forgets what is past its retention every minute, in slices, as far as the run's budget goes", async () => {
    const tenant = freshTenant("cron-purge");
    await placeInDirectory(tenant, "DB_3");
    const db = shardBinding(env, "DB_3");
    const nineDaysAgo = Date.now() - 9 * 24 * 3600 * 1000;
    const seed = (n: number, prefix: string) =>
      db
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO tracking_messages (tenant_id, message_id, received_at) SELECT ?, ? || i, ? FROM n`,
        )
        .bind(n, tenant, prefix, nineDaysAgo)
        .run();
    const kept = async () =>
      (await db.prepare("SELECT count(*) AS n FROM tracking_messages WHERE tenant_id = ?").bind(tenant).first<{ n: number }>())!.n;
    // More than two slices: a budget of two subrequests purges two slices, and leaves the rest to the next run.
    await seed(2 * PURGE_SLICE + 7, "m-");
    const within = async (subrequests: number) => {
      const budget = new Budget(subrequests);
      const counted = watchedEnv(env, { call: () => budget.take() });
      return purgeSeenMessages(database(shardBinding(counted, "DB_3")), Date.now(), budget);
    };
    const first = await within(2);
    expect(first).toBe(2 * PURGE_SLICE);
    expect(await kept()).toBeGreaterThan(0);
    await within(10);
    expect(await kept()).toBe(0);
    // The per-minute run does it too, with what its shards' other jobs leave.
    await seed(3, "late-");
    await runCron();
    expect(await kept()).toBe(0);
  });
});
