// The operator's view of shards (api/vendor/shards.ts): placements, and moves driven to their end.
import type { Env } from "../../env";
import { Budget } from "../shared/budget";
import { CoreError } from "../shared/errors";
import { controlPrimary, shardNames, shardSize } from "./bindings";
import { advanceMove, isActive, MOVE_BUDGET, type MoveRow, readMove, rollBackMove, startMove } from "./move";
import { placeTenantOn } from "./placement";

export interface MoveView {
  tenant_id: string;
  from: string;
  to: string;
  state: string;
  copied_rows: number;
  caught_up_rows: number;
  started_at: number;
  finished_at: number | null;
}

const moveView = (m: MoveRow): MoveView => ({
  tenant_id: m.tenantId,
  from: m.fromShard,
  to: m.toShard,
  state: m.state,
  copied_rows: m.copied,
  caught_up_rows: m.caughtUp,
  started_at: m.startedAt,
  finished_at: m.finishedAt,
});

export async function describeShards(env: Env) {
  const counts = await controlPrimary(env)
    .prepare("SELECT shard, count(*) AS n FROM tenant_shards GROUP BY shard")
    .all<{ shard: string; n: number }>();
  const placed = new Map(counts.results.map((r) => [r.shard, r.n]));
  return Promise.all(
    shardNames(env).map(async (name) => ({ shard: name, tenants: placed.get(name) ?? 0, size_bytes: await shardSize(env, name) })),
  );
}

export async function placementOf(env: Env, tenantId: string) {
  const row = await controlPrimary(env)
    .prepare("SELECT shard, placed_at, placed_by FROM tenant_shards WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ shard: string; placed_at: number; placed_by: string }>();
  if (!row) throw new CoreError("not_found", `tenant ${tenantId} has not been placed yet (its first request, or PUT placement, places it)`);
  const move = await readMove(env, tenantId);
  return { tenant_id: tenantId, shard: row.shard, placed_at: row.placed_at, placed_by: row.placed_by, move: move ? moveView(move) : null };
}

export async function placeTenant(env: Env, tenantId: string, shard: string, vendor: string) {
  const { created } = await placeTenantOn(env, tenantId, shard, vendor);
  return { created, placement: await placementOf(env, tenantId) };
}

/** Start a move, or go on with the one running to the same shard; as far as one request may. */
export async function moveTenant(env: Env, tenantId: string, to: string, vendor: string): Promise<MoveView> {
  const running = await readMove(env, tenantId);
  const active = isActive(running);
  if (active && running!.toShard !== to) throw new CoreError("conflict", `tenant ${tenantId} is already moving to ${running!.toShard}`);
  if (!active) await startMove(env, tenantId, to, vendor);
  let left = MOVE_BUDGET;
  for (;;) {
    const step = await advanceMove(env, tenantId, left);
    if (!step) throw new CoreError("not_found", `tenant ${tenantId} has no move`);
    left -= step.spent;
    // The waits for the directory's cache are short (seconds): sit them out here, budget allowing.
    if (step.move.state === "done" || step.waitMs === 0 || left < 50) return moveView(step.move);
    await new Promise((r) => setTimeout(r, step.waitMs));
  }
}

export async function cancelMove(env: Env, tenantId: string): Promise<MoveView> {
  return moveView(await rollBackMove(env, tenantId));
}

/**
 * Subrequests the moves of one cron run spend together (counted as advanceMove counts them), so the run's other jobs
 * (every shard's webhook sweep) keep the rest of its invocation's 1,000: ten stalled moves of 600 each would take all.
 */
export const CRON_MOVE_BUDGET = 300;
/** A move is not started with less left than this (a step's fixed reads and writes): it waits for the next run. */
const CRON_MOVE_LEAST = 40;

/**
 * The cron's share: moves left unfinished (a request that ended, a crash) are taken further, the longest idle first,
 * within one budget. A move that fails goes to the back of the line, so one that keeps failing holds up no other; the
 * run then fails, so it shows.
 */
export async function resumeMoves(env: Env, budget: number | Budget = CRON_MOVE_BUDGET) {
  const control = controlPrimary(env);
  const stalled = await control
    .prepare(
      "SELECT tenant_id FROM tenant_moves WHERE state NOT IN ('done', 'rolled_back') AND updated_at < ? ORDER BY updated_at LIMIT 10",
    )
    .bind(Date.now() - 30_000)
    .all<{ tenant_id: string }>();
  const failed: unknown[] = [];
  const shared = typeof budget === "number" ? new Budget(budget) : budget;
  for (const m of stalled.results) {
    if (shared.left < CRON_MOVE_LEAST) break;
    try {
      await advanceMove(env, m.tenant_id, shared);
    } catch (e) {
      failed.push(e);
      await control.prepare("UPDATE tenant_moves SET updated_at = ? WHERE tenant_id = ?").bind(Date.now(), m.tenant_id).run();
    }
  }
  if (failed.length > 0) throw new AggregateError(failed, `${failed.length} of ${stalled.results.length} stalled moves failed`);
  return stalled.results.length;
}
