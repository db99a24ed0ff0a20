// One Durable Object per tenant+group (named by tenantScoped, core/shared/ids.ts). It
// applies the group's membership mutations, field updates and deletion in arrival order
// (adds, removes and role changes that queue meanwhile together, in one flush), and keeps a
// queue of users whose claims must be refreshed, handed to their claims writers by its alarm.
import { DurableObject } from "cloudflare:workers";
import { type GroupPatch, updateGroupRow } from "../core/groups/writes";
import type { ClaimRefresh } from "../core/hierarchy/subtree-users";
import { linkChildren, unlinkChildren } from "../core/hierarchy/writes";
import { applyMemberChanges, FLUSH_MAX_IDS, FLUSH_MAX_OPS, idsOfChange, type MemberChange, type QueuedChange } from "../core/members/flush";
import * as writes from "../core/members/writes";
import { type Authority, assertMayChangeMembers } from "../core/roles/rules";
import { assignGroupRoles, removeGroupRoles } from "../core/roles/writes";
import { readRule } from "../core/rules/reads";
import { compileRule, RULE_LIMITS } from "../core/rules/rules";
import { dropRule, type RuleRange, ruleDiff, saveRule } from "../core/rules/writes";
import { tenantDatabase } from "../core/shards/directory";
import { moveRefusal } from "../core/shards/fence";
import { database } from "../core/shared/context";
import { CoreError, type SerializedError } from "../core/shared/errors";
import { type GroupCall, ingestGroupCalls } from "../core/tracking/writes";
import type { Env } from "../env";
import { ClaimsQueue } from "./claims-queue";
import { ExpirySchedule } from "./expiry-schedule";

/** bookmark: D1's bookmark after the mutation, so the request that asked reads what it wrote (http/d1-session.ts). */
export type Outcome<T> = ({ ok: true; value: T } | { ok: false; error: SerializedError }) & { bookmark?: string };

/** The coordinator's own changes (a rule's reconcile, an expiry) answer to no role. */
const SYSTEM = { exempt: true, roleKeys: [] };

export interface Caller {
  tenantId: string;
  groupId: string;
  actor: string;
  source: string;
  authority: Authority;
  /** The versions If-Match allows the group to be at when this change applies; undefined: any. */
  expect?: number[];
  /** The public surface the change came through (see Scope.surface). */
  surface?: string;
}

interface Waiting extends QueuedChange {
  resolve(outcome: Outcome<unknown>): void;
  reject(error: unknown): void;
}

export class GroupCoordinator extends DurableObject<Env> {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly claims = new ClaimsQueue(this.ctx.storage, this.env);
  private readonly expiries = new ExpirySchedule(this.ctx.storage);
  /**
   * Membership changes waiting for the next flush; null once that flush is closed to
   * newcomers. A flush holds changes of one tenant and group only, whatever reaches this object.
   */
  private open: { of: string; waiting: Waiting[]; ids: number } | null = null;
  /** The D1 session of the mutation running now (mutations run one at a time). */
  private session: D1DatabaseSession | null = null;

  /**
   * Run mutations strictly one after another: awaiting D1 would otherwise let another
   * request interleave. The claims a mutation queued go to the alarm when it is over.
   */
  private serial<T>(tenantId: string, fn: () => Promise<T>): Promise<Outcome<T>> {
    // Whatever queues after this must run after it, so the open flush takes no one else.
    this.open = null;
    return this.chain(tenantId, fn);
  }

  private chain<T>(tenantId: string, fn: () => Promise<T>): Promise<Outcome<T>> {
    const run = this.tail.then(async (): Promise<Outcome<T>> => {
      // One D1 session per mutation, on the tenant's shard (looked up each time: the tenant may
      // have moved), its writes on the primary; its bookmark goes back with the outcome.
      this.session = (await tenantDatabase(this.env, tenantId)).d1.withSession("first-primary");
      try {
        // Expired memberships go before any change reads the group (the alarm may not have run yet).
        const due = await this.expiries.dueBy(Date.now());
        if (due) await this.expireDue(due.tenantId, due.groupId);
        return { ok: true, value: await fn(), ...this.bookmark() };
      } catch (e) {
        const refused = e instanceof CoreError ? e : moveRefusal(e);
        if (refused) return { ok: false, error: refused.toJSON(), ...this.bookmark() };
        throw e;
      } finally {
        await this.claims.release();
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Group commit: a membership change joins the open flush, or opens one behind whatever is
   * running; the flush applies all its changes at once (core/members/flush.ts).
   */
  private memberChange<T>(c: Caller, change: MemberChange): Promise<Outcome<T>> {
    return new Promise<Outcome<unknown>>((resolve, reject) => {
      const size = idsOfChange(change).length;
      const of = JSON.stringify([c.tenantId, c.groupId]);
      if (!this.open || this.open.of !== of || this.open.waiting.length >= FLUSH_MAX_OPS || this.open.ids + size > FLUSH_MAX_IDS) {
        const flush = { of, waiting: [] as Waiting[], ids: 0 };
        this.open = flush;
        void this.chain(c.tenantId, () => this.flush(c, flush.waiting));
      }
      this.open.waiting.push({
        change,
        actor: c.actor,
        source: c.source,
        surface: c.surface,
        authority: c.authority,
        expect: c.expect,
        resolve,
        reject,
      });
      this.open.ids += size;
    }) as Promise<Outcome<T>>;
  }

  private async flush(c: Caller, waiting: Waiting[]) {
    if (this.open?.waiting === waiting) this.open = null;
    try {
      const results = await applyMemberChanges(this.db, c.tenantId, c.groupId, waiting, this.flushHooks(c.tenantId));
      const expiries = waiting.flatMap((w, i) =>
        results[i]!.ok && "expiresAt" in w.change && typeof w.change.expiresAt === "number" ? [w.change.expiresAt] : [],
      );
      if (expiries.length > 0) await this.expiries.note(c.tenantId, c.groupId, Math.min(...expiries));
      const bookmark = this.bookmark();
      for (const [i, r] of results.entries())
        waiting[i]!.resolve(r.ok ? { ok: true, value: r.value, ...bookmark } : { ok: false, error: r.error.toJSON(), ...bookmark });
    } catch (e) {
      // The flush refused whole (a move's fence, or adds that kept meeting racing adds): every caller gets that answer, nothing was written.
      const refused = e instanceof CoreError ? e : moveRefusal(e);
      for (const w of waiting) refused ? w.resolve({ ok: false, error: refused.toJSON() }) : w.reject(e);
    }
  }

  /** Take away the direct memberships whose expiry has come, a chunk per group commit, then remember when the next one comes. */
  private async expireDue(tenantId: string, groupId: string) {
    for (;;) {
      const { due, next } = await writes.expiryState(this.db, tenantId, groupId, Date.now());
      if (due.length > 0) {
        await applyMemberChanges(
          this.db,
          tenantId,
          groupId,
          [{ change: { kind: "expire", ids: due }, actor: "system", source: "api", surface: "expiry", authority: SYSTEM }],
          this.flushHooks(tenantId),
        );
      }
      if (due.length < writes.EXPIRE_CHUNK) return this.expiries.set(tenantId, groupId, next);
    }
  }

  private async reserveSeqs(n: number) {
    const first = ((await this.ctx.storage.get<number>("seq")) ?? 0) + 1;
    await this.ctx.storage.put("seq", first + n - 1);
    return first;
  }

  /** What a group commit needs of this object: sequence numbers, and the claims journal. */
  private flushHooks(tenantId: string) {
    return { reserveSeqs: (n: number) => this.reserveSeqs(n), beforeCommit: this.journal(tenantId) };
  }

  /** Queue these users' claims refresh before the write that changes them commits. */
  private journal = (tenantId: string) => (userIds: string[]) => this.claims.hold(tenantId, userIds);

  /** A write's claim refreshes, queued before its commit and (for users it found only in its batch) after. */
  private refresh(tenantId: string): ClaimRefresh {
    return { beforeCommit: this.journal(tenantId), afterCommit: this.journal(tenantId) };
  }

  private async meta(c: Caller): Promise<writes.MutationMeta> {
    return {
      ...c,
      seq: await this.reserveSeqs(1),
      ...this.refresh(c.tenantId),
      changedOnly: (users) => this.claims.keepOnly(users),
    };
  }

  private bookmark(): { bookmark?: string } {
    const b = this.session?.getBookmark();
    return b ? { bookmark: b } : {};
  }

  private get db() {
    if (!this.session) throw new Error("a coordinator's database is used only inside a mutation");
    // A session has the calls drizzle makes (prepare, batch).
    return database(this.session as unknown as D1Database);
  }

  /** Rule 2 of the role rules, checked inside the serial section so the group's roles cannot change before the write. */
  private mayChangeMembers(c: Caller) {
    return assertMayChangeMembers(this.db, c.tenantId, c.groupId, c.authority);
  }

  addMembers(c: Caller, userIds: string[], role: writes.MemberRole, displays: Record<string, string> = {}, expiresAt?: number) {
    return this.memberChange<{ added: number; already_members: number; version: number }>(c, {
      kind: "add",
      ids: userIds,
      role,
      displays,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
  }

  removeMembers(c: Caller, userIds: string[]) {
    return this.memberChange<writes.RemoveResult & { version: number }>(c, { kind: "remove", ids: userIds });
  }

  replaceMembers(c: Caller, userIds: string[], role: writes.MemberRole, expiresAt?: number) {
    return this.serial(c.tenantId, async () => {
      await this.mayChangeMembers(c);
      const { changed_ids: _queued, ...result } = await writes.replaceMembers(this.db, await this.meta(c), userIds, role, expiresAt);
      if (expiresAt !== undefined) await this.expiries.note(c.tenantId, c.groupId, expiresAt);
      return result;
    });
  }

  /** A member's role, and when their direct membership ends (null: never); undefined leaves either as it is. */
  updateMember(c: Caller, userId: string, change: { role?: writes.MemberRole; expiresAt?: number | null }) {
    return this.memberChange<{ version: number }>(c, { kind: "update", userId, ...change });
  }

  assignRoles(c: Caller, roleIds: string[]) {
    return this.serial(c.tenantId, async () => assignGroupRoles(this.db, await this.meta(c), c.authority, roleIds));
  }

  removeRoles(c: Caller, roleIds: string[]) {
    return this.serial(c.tenantId, async () => removeGroupRoles(this.db, await this.meta(c), c.authority, roleIds));
  }

  updateGroup(c: Caller, patch: GroupPatch) {
    return this.serial(c.tenantId, async () => {
      // A new name reaches the claims of its members and of everyone who inherits the group.
      const { row } = await updateGroupRow(this.db, c, c.groupId, patch, this.refresh(c.tenantId), c.expect);
      return row;
    });
  }

  deleteGroup(c: Caller) {
    return this.serial(c.tenantId, async () => {
      const former = await writes.deleteGroup(this.db, await this.meta(c));
      return { deleted: true, former_members: former.length };
    });
  }

  /** Analytics group calls for this group: create it if missing, add the users, merge the traits. */
  ingestGroupCalls(c: Caller, calls: GroupCall[]) {
    return this.serial(c.tenantId, async () => {
      const { refresh: _queued, ...outcome } = await ingestGroupCalls(this.db, await this.meta(c), c.authority, calls);
      return outcome;
    });
  }

  /** Links and unlinks run on the tenant's hierarchy coordinator (see core/hierarchy/index.ts), c.groupId being the parent. */
  linkChildren(c: Caller, childIds: string[]) {
    return this.serial(c.tenantId, async () => {
      const { affected_users: _queued, ...result } = await linkChildren(this.db, await this.meta(c), childIds);
      return result;
    });
  }

  unlinkChildren(c: Caller, childIds: string[]) {
    return this.serial(c.tenantId, async () => {
      const { affected_users: _queued, ...result } = await unlinkChildren(this.db, await this.meta(c), childIds);
      return result;
    });
  }

  /** Set the group's membership rule (the caller then reconciles, setRule's result saying whether to). */
  setRule(c: Caller, input: { expression: string; paused: boolean }) {
    return this.serial(c.tenantId, async () => {
      await this.mayChangeMembers(c);
      return saveRule(this.db, await this.meta(c), input);
    });
  }

  deleteRule(c: Caller) {
    return this.serial(c.tenantId, async () => {
      await this.mayChangeMembers(c);
      // Before a sequence number is taken: a group without a rule changes nothing and records no event.
      if (!(await readRule(this.db, c.tenantId, c.groupId)))
        throw new CoreError("not_found", `group '${c.groupId}' has no membership rule`);
      return dropRule(this.db, await this.meta(c));
    });
  }

  /**
   * Bring the rule source's memberships in line with the group's rule, from a point in the users
   * on (RULE_LIMITS.rangesPerCall ranges of users at most, `next` where the next call starts) or
   * for the users named: the rule selects them (they hold the group through it) or not (the rule
   * lets go of them). Each range is its own change, so the group's other changes go on between
   * them, and a caller makes one call per rangesPerCall × reconcileChunk users.
   */
  async reconcileRule(c: Caller, range: RuleRange) {
    const total = { added: 0, removed: 0, skipped: [] as string[], next: null as string | null, paused: false };
    for (let i = 0, from = range; ; i++) {
      const step = await this.reconcileRange(c, from);
      if (!step.ok) return step;
      const { added, removed, skipped, next, paused } = step.value;
      Object.assign(total, { added: total.added + added, removed: total.removed + removed, next, paused });
      if (total.skipped.length < 100) total.skipped.push(...skipped.slice(0, 100 - total.skipped.length));
      // The last range's bookmark: the caller reads what every range wrote.
      if (next === null || i + 1 >= RULE_LIMITS.rangesPerCall) return { ...step, value: total };
      from = { after: next };
    }
  }

  /**
   * One range of a reconcile. A paused rule changes nothing; a dropped one lets go of everyone.
   * Runs in arrival order with the group's other changes, reading the rule and the profiles as they are now.
   */
  private reconcileRange(c: Caller, range: RuleRange) {
    return this.serial(c.tenantId, async () => {
      const rule = await readRule(this.db, c.tenantId, c.groupId);
      if (rule?.paused) return { added: 0, removed: 0, skipped: [] as string[], next: null, paused: true };
      const diff = await ruleDiff(this.db, c.tenantId, c.groupId, rule ? compileRule(rule.expression) : null, range);
      const system = { actor: c.actor, source: "rule", surface: "rule", authority: SYSTEM };
      const queue: QueuedChange[] = [
        ...(diff.join.length
          ? [{ ...system, change: { kind: "add", ids: diff.join, role: "member", displays: {}, skipFull: true } as const }]
          : []),
        ...(diff.leave.length ? [{ ...system, change: { kind: "remove", ids: diff.leave } as const }] : []),
      ];
      const results = queue.length ? await applyMemberChanges(this.db, c.tenantId, c.groupId, queue, this.flushHooks(c.tenantId)) : [];
      for (const r of results) if (!r.ok) throw r.error;
      const values = results.map((r) => (r.ok ? r.value : {})) as { added?: number; removed?: number; skipped?: string[] }[];
      return {
        added: values.reduce((n, v) => n + (v.added ?? 0), 0),
        removed: values.reduce((n, v) => n + (v.removed ?? 0), 0),
        skipped: values.flatMap((v) => v.skipped ?? []),
        next: diff.next,
        paused: false,
      };
    });
  }

  /** How many users still wait for a claims refresh (for tests and operators). */
  pendingRefreshes(): Promise<number> {
    return this.claims.pending();
  }

  override async alarm() {
    await this.claims.work();
    const due = await this.expiries.dueForAlarm(Date.now());
    // serial() sweeps what is due before its (empty) change, in order with the group's other changes.
    if (due && !(await this.serial(due.tenantId, async () => undefined)).ok) this.expiries.refusedNow();
    await this.expiries.arm();
  }
}
