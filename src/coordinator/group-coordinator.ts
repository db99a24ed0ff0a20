// One Durable Object per tenant+group (idFromName(`${tenantId}:${groupId}`)). It
// applies the group's membership mutations, field updates and deletion one at a time,
// and keeps a queue of users whose claims must be refreshed, worked off by its alarm.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { database } from "../core/context";
import { CoreError, type SerializedError } from "../core/errors";
import * as writes from "../core/member-writes";
import { updateGroupRow, type GroupPatch } from "../core/group-writes";
import { refreshClaims } from "../core/claims";
import { assertMayChangeMembers, type Authority } from "../core/role-rules";
import { assignGroupRoles, removeGroupRoles } from "../core/group-role-writes";
import { linkChildren, subtreeUserIds, unlinkChildren } from "../core/hierarchy-writes";
import { ingestGroupCalls, type GroupCall } from "../core/tracking-writes";

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

export interface Caller {
  tenantId: string;
  groupId: string;
  actor: string;
  source: string;
  authority: Authority;
}

/** Users per claims refresh: one D1 query and this many KV writes. */
const REFRESH_CHUNK = 200;
/** How long one alarm run may work before handing the rest to the next run. */
const ALARM_BUDGET_MS = 10_000;
const RETRY_DELAY_MS = 2_000;

interface QueuedRefresh {
  tenantId: string;
  userIds: string[];
}

export class GroupCoordinator extends DurableObject<Env> {
  private tail: Promise<unknown> = Promise.resolve();

  /** Run mutations strictly one after another: awaiting D1 would otherwise let another request interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    const run = this.tail.then(async (): Promise<Outcome<T>> => {
      try {
        return { ok: true, value: await fn() };
      } catch (e) {
        if (e instanceof CoreError) return { ok: false, error: e.toJSON() };
        throw e;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async meta(c: Caller): Promise<writes.MutationMeta> {
    const seq = ((await this.ctx.storage.get<number>("seq")) ?? 0) + 1;
    await this.ctx.storage.put("seq", seq);
    return { ...c, seq };
  }

  private get db() {
    return database(this.env.DB);
  }

  /** Rule 2 of the role rules, checked inside the serial section so the group's roles cannot change before the write. */
  private mayChangeMembers(c: Caller) {
    return assertMayChangeMembers(this.db, c.tenantId, c.groupId, c.authority);
  }

  addMembers(c: Caller, userIds: string[], role: writes.MemberRole, displays: Record<string, string> = {}) {
    return this.serial(async () => {
      await this.mayChangeMembers(c);
      const result = await writes.addMembers(this.db, await this.meta(c), userIds, role, displays);
      await this.enqueue(c.tenantId, result.added_ids);
      return { added: result.added, already_members: result.already_members };
    });
  }

  removeMembers(c: Caller, userIds: string[]) {
    return this.serial(async () => {
      await this.mayChangeMembers(c);
      const result = await writes.removeMembers(this.db, await this.meta(c), userIds);
      await this.enqueue(c.tenantId, userIds);
      return result;
    });
  }

  replaceMembers(c: Caller, userIds: string[], role: writes.MemberRole) {
    return this.serial(async () => {
      await this.mayChangeMembers(c);
      const { changed_ids, ...result } = await writes.replaceMembers(this.db, await this.meta(c), userIds, role);
      await this.enqueue(c.tenantId, changed_ids);
      return result;
    });
  }

  setMemberRole(c: Caller, userId: string, role: writes.MemberRole) {
    return this.serial(async () => {
      await this.mayChangeMembers(c);
      return writes.setMemberRole(this.db, await this.meta(c), userId, role);
    });
  }

  assignRoles(c: Caller, roleIds: string[]) {
    return this.serial(async () => assignGroupRoles(this.db, await this.meta(c), c.authority, roleIds));
  }

  removeRoles(c: Caller, roleIds: string[]) {
    return this.serial(async () => removeGroupRoles(this.db, await this.meta(c), c.authority, roleIds));
  }

  updateGroup(c: Caller, patch: GroupPatch) {
    return this.serial(async () => {
      const { row, renamed } = await updateGroupRow(this.db, c.tenantId, c.groupId, patch);
      // A new name reaches the claims of its members and of everyone who inherits the group.
      if (renamed) await this.enqueue(c.tenantId, await subtreeUserIds(this.db, c.tenantId, [c.groupId]));
      return row;
    });
  }

  deleteGroup(c: Caller) {
    return this.serial(async () => {
      const held = await subtreeUserIds(this.db, c.tenantId, [c.groupId]);
      const former = await writes.deleteGroup(this.db, await this.meta(c));
      await this.enqueue(c.tenantId, [...new Set([...former, ...held])]);
      return { deleted: true, former_members: former.length };
    });
  }

  /** Analytics group calls for this group: create it if missing, add the users, merge the traits. */
  ingestGroupCalls(c: Caller, calls: GroupCall[]) {
    return this.serial(async () => {
      const { refresh, ...outcome } = await ingestGroupCalls(this.db, await this.meta(c), c.authority, calls);
      await this.enqueue(c.tenantId, refresh);
      return outcome;
    });
  }

  /** Links and unlinks run on the tenant's hierarchy coordinator (see core/hierarchy.ts), c.groupId being the parent. */
  linkChildren(c: Caller, childIds: string[]) {
    return this.serial(async () => {
      const { affected_users, ...result } = await linkChildren(this.db, await this.meta(c), childIds);
      await this.enqueue(c.tenantId, affected_users);
      return result;
    });
  }

  unlinkChildren(c: Caller, childIds: string[]) {
    return this.serial(async () => {
      const { affected_users, ...result } = await unlinkChildren(this.db, await this.meta(c), childIds);
      await this.enqueue(c.tenantId, affected_users);
      return result;
    });
  }

  /** How many users still wait for a claims refresh (for tests and operators). */
  async pendingRefreshes(): Promise<number> {
    const entries = await this.ctx.storage.list<QueuedRefresh>({ prefix: "q:" });
    let n = 0;
    for (const e of entries.values()) n += e.userIds.length;
    return n;
  }

  private async enqueue(tenantId: string, userIds: string[]) {
    if (userIds.length === 0) return;
    const next = ((await this.ctx.storage.get<number>("qseq")) ?? 0) + 1;
    const entries: Record<string, QueuedRefresh> = {};
    let k = next;
    for (let i = 0; i < userIds.length; i += REFRESH_CHUNK) {
      entries[`q:${String(k++).padStart(12, "0")}`] = { tenantId, userIds: userIds.slice(i, i + REFRESH_CHUNK) };
    }
    // storage.put of many keys is capped at 128 per call.
    const keys = Object.keys(entries);
    for (let i = 0; i < keys.length; i += 128) {
      await this.ctx.storage.put(Object.fromEntries(keys.slice(i, i + 128).map((key) => [key, entries[key]])));
    }
    await this.ctx.storage.put("qseq", k - 1);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  override async alarm() {
    const started = Date.now();
    while (Date.now() - started < ALARM_BUDGET_MS) {
      const batch = await this.ctx.storage.list<QueuedRefresh>({ prefix: "q:", limit: 5 });
      if (batch.size === 0) return;
      for (const [key, entry] of batch) {
        try {
          await refreshClaims(this.env, entry.tenantId, entry.userIds);
        } catch (e) {
          // Keep the entry; it is retried on the next alarm rather than lost.
          console.error("claims refresh failed; retrying", e);
          await this.ctx.storage.setAlarm(Date.now() + RETRY_DELAY_MS);
          return;
        }
        await this.ctx.storage.delete(key);
      }
    }
    await this.ctx.storage.setAlarm(Date.now());
  }
}
