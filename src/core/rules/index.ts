// Membership rules: a group's rule (a SCIM filter over user profiles) makes the users it
// selects members with the "rule" source. Setting, changing, unpausing or dropping a rule
// reconciles the group on its coordinator, a range of users per call; a profile change
// re-evaluates every rule of the tenant for that user before its response (reevaluateUsers).
import { sql } from "drizzle-orm";
import { callerOf, coordinatorOf, unwrap } from "../../coordinator/client";
import { users } from "../../db/schema";
import type { Env } from "../../env";
import { loadSettings } from "../config";
import { groupExists } from "../groups/reads";
import type { Budget } from "../shared/budget";
import { type Db, type Scope, tenantScope } from "../shared/context";
import { CoreError, notFound } from "../shared/errors";
import { groupBy } from "../shared/group-by";
import { rowOf } from "../shared/rows";
import { type Mark, type MarkTable, noteGroupProgress, overdue, postpone, settleGroup, settleProfiles } from "./owed";
import { groupsToReconcile, type RuleRow, readRule } from "./reads";
import { compileRule } from "./rules";

export { OWED_GRACE_MS, owedToken, profileOwed } from "./owed";
export { compileRule, RULE_ATTRIBUTE_NAMES, RULE_LIMITS } from "./rules";
export type { RuleRow };

export interface RulePreview {
  matched: number;
  /** The first matching users by id. */
  users: (typeof users.$inferSelect)[];
}

/** One statement, the expression bound once: every match counted (a window over the whole result), the first `limit` returned. */
export async function previewRule(scope: Scope, expression: string, limit: number): Promise<RulePreview> {
  const where = compileRule(expression);
  const rows = await scope.db.all<Record<string, unknown> & { matched: number }>(sql`
    SELECT u.*, count(*) OVER () AS matched FROM users u WHERE u.tenant_id = ${scope.tenantId} AND ${where} ORDER BY u.id LIMIT ${limit}`);
  return { matched: rows[0]?.matched ?? 0, users: rows.map(({ matched: _, ...r }) => rowOf(users, r)) };
}

/** What a reconcile changed: users the rule added and let go, and the ones it left out at their groups-per-user limit. */
export interface Reconciled {
  added: number;
  removed: number;
  skipped: string[];
}

/**
 * Reconcile the group's users after `from` ("": all of them), a range of users per coordinator call; cut short by
 * `maxCalls`, `done` is false and `after` says where the next reconcile goes on.
 */
async function reconcileGroup(scope: Scope, groupId: string, maxCalls = Number.POSITIVE_INFINITY, from = "") {
  const total: Reconciled = { added: 0, removed: 0, skipped: [] };
  let after: string | null = from;
  for (let calls = 0; after !== null; calls++) {
    if (calls >= maxCalls) return { reconciled: total, done: false, after };
    const step: Reconciled & { next: string | null } = await unwrap(
      coordinatorOf(scope, groupId).reconcileRule(callerOf(scope, groupId, "rule"), { after }),
    );
    total.added += step.added;
    total.removed += step.removed;
    if (total.skipped.length < 100) total.skipped.push(...step.skipped.slice(0, 100 - total.skipped.length));
    after = step.next;
  }
  return { reconciled: total, done: true, after: null };
}

/**
 * Set the group's rule and reconcile its members (a paused rule is stored, its members left
 * as they are). 422 before anything changes when the rule selects more users than a group may hold.
 */
export async function putRule(
  scope: Scope,
  groupId: string,
  input: { expression: string; paused: boolean },
): Promise<{ rule: RuleRow; created: boolean; reconciled: Reconciled }> {
  const { matched } = await previewRule(scope, input.expression, 1);
  const { maxMembersPerGroup } = await loadSettings(scope.db, scope.tenantId);
  if (!input.paused && matched > maxMembersPerGroup) {
    throw new CoreError(
      "limit_exceeded",
      `the rule selects ${matched} users; this tenant allows at most ${maxMembersPerGroup} members per group`,
    );
  }
  const { owed, ...saved } = await unwrap(coordinatorOf(scope, groupId).setRule(callerOf(scope, groupId), input));
  const reconciled = owed === null ? { added: 0, removed: 0, skipped: [] } : (await reconcileOwed(scope, groupId, owed)).reconciled;
  return { ...saved, reconciled };
}

export async function getRule(scope: Scope, groupId: string): Promise<RuleRow> {
  const rule = await readRule(scope.db, scope.tenantId, groupId);
  if (rule) return rule;
  throw (await groupExists(scope, groupId))
    ? new CoreError("not_found", `group '${groupId}' has no membership rule`)
    : notFound("group", groupId);
}

/** Drop the group's rule: the users only the rule held leave; the others keep their other sources. */
export async function deleteRule(scope: Scope, groupId: string): Promise<Reconciled> {
  const { owed } = await unwrap(coordinatorOf(scope, groupId).deleteRule(callerOf(scope, groupId)));
  return (await reconcileOwed(scope, groupId, owed)).reconciled;
}

/**
 * The group reconciled (from its first user, or after `from`, where a reconcile cut short stopped), then the mark its
 * rule change left cleared (unless a later change set its own). Cut short by `maxCalls`, the mark stays with how far
 * this one got, and the next reconcile (the cron's) goes on from there: users before it that change later are the
 * profile marks' work, and a new rule change starts over.
 */
async function reconcileOwed(scope: Scope, groupId: string, owed: number, maxCalls?: number, from?: string) {
  const step = await reconcileGroup(scope, groupId, maxCalls, from);
  if (step.done) await settleGroup(scope.db, scope.tenantId, groupId, owed);
  else if (step.after) await noteGroupProgress(scope.db, scope.tenantId, groupId, owed, step.after);
  return step;
}

/**
 * After these users' profiles changed: every rule of the tenant evaluated for them at once,
 * and each group whose rule now disagrees reconciled for them on its coordinator (in parallel).
 * With more such groups than `maxCalls`, the first are reconciled and the marks stay: the next
 * evaluation (the cron's) finds only the groups that still disagree. True when all were.
 */
export async function reevaluateUsers(
  scope: Scope,
  changed: { id: string; token: number | null }[],
  maxCalls = Number.POSITIVE_INFINITY,
): Promise<boolean> {
  const userIds = changed.map((u) => u.id);
  const groups = await groupsToReconcile(scope.db, scope.tenantId, userIds);
  const now = groups.slice(0, Math.max(0, maxCalls));
  await Promise.all(now.map((g) => unwrap(coordinatorOf(scope, g).reconcileRule(callerOf(scope, g, "rule"), { only: userIds }))));
  if (now.length < groups.length) return false;
  await settleProfiles(
    scope.db,
    scope.tenantId,
    changed.flatMap((u) => (u.token === null ? [] : [{ id: u.id, token: u.token }])),
  );
  return true;
}

/** Events of the work the cron finishes name this actor. */
export const OWED_SWEEP_ACTOR = "system:rule-sweep";

/**
 * A unit of owed work's subrequests besides its coordinator calls: the tenant's shard, the rules and their batch (or
 * the settle, or a group reconcile's progress), a postpone, and one to spare.
 */
const OWED_UNIT_CALLS = 6;

/**
 * The per-minute cron, on one shard: the rule work that requests left owed (cut off after their
 * change committed) and did not finish within OWED_GRACE_MS, done and its marks cleared. Marks
 * whose work fails (a tenant's move fences its writes, say) are postponed by another grace. With
 * a budget (the cron's), a unit of work takes only the coordinator calls it covers: marks whose
 * work it did not finish stay as they are, the oldest, for the next run.
 */
export async function sweepOwedRules(
  env: Env,
  db: Db,
  now = Date.now(),
  budget?: Budget,
): Promise<{ profiles: number; groups: number; failed: number; waiting: number }> {
  const calls = () => (budget ? budget.left - OWED_UNIT_CALLS : Number.POSITIVE_INFINITY);
  if (calls() < 3) return { profiles: 0, groups: 0, failed: 0, waiting: 0 };
  const { profiles, groups } = await overdue(db, now);
  let [failed, waiting] = [0, 0];
  const attempt = async (table: MarkTable, tenantId: string, marks: Mark[], work: (scope: Scope, maxCalls: number) => Promise<boolean>) => {
    if (calls() < 1) {
      waiting += marks.length;
      return;
    }
    try {
      if (!(await work(await tenantScope(env, tenantId, OWED_SWEEP_ACTOR), calls()))) waiting += marks.length;
    } catch (e) {
      failed += marks.length;
      console.error(JSON.stringify({ level: "error", msg: "owed rule work failed; postponed", tenant: tenantId, table, error: String(e) }));
      await postpone(db, table, tenantId, marks).catch(() => undefined); // if even that fails, the marks stay as they were
    }
  };
  for (const [tenantId, rows] of groupBy(profiles, (p) => p.tenant_id))
    await attempt("users", tenantId, rows, (scope, max) => reevaluateUsers(scope, rows, max));
  for (const g of groups)
    await attempt("groups", g.tenant_id, [g], async (scope, max) => (await reconcileOwed(scope, g.id, g.token, max, g.after ?? "")).done);
  return { profiles: profiles.length, groups: groups.length, failed, waiting };
}
