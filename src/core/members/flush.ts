// Group commit: the membership changes (add, remove, role) that queued on a group's
// coordinator while it was busy, applied together. One read gets what every change checks,
// the changes are played in arrival order in memory against it (each caller's result is
// what it would have had alone in that order, a refusal failing only its own caller), and
// one batch writes the net effect. Two D1 round trips for the whole flush instead of three
// or four per change. See ARCHITECTURE.md "Group commit".
import { sql } from "drizzle-orm";
import { parseStored, type TenantSettings } from "../config/rules";
import { adjustSubtreeCounts, membersAmong } from "../hierarchy/subtree-counts";
import { type Authority, checkMayChangeMembers, memberRuleLevelsSql } from "../roles/rules";
import { batch, type Db } from "../shared/context";
import { CoreError, notFound, notMember } from "../shared/errors";
import { newId } from "../shared/ids";
import { checkVersion } from "../shared/versions";
import { afterRacingAdds, checkGroupsPerUser, checkMembersPerGroup, groupsPerUserHeld } from "./rules";
import { SOURCE_BITS, sourceBit, sourceNames } from "./sources";
import { type Adder, type AddResult, ensureUsers, existingMembersQuery, groupsOfQuery, type MemberRole, type RemoveResult } from "./writes";

/** A flush takes at most this many changes, naming at most FLUSH_MAX_IDS users in all (the statement and invocation limits). */
export const FLUSH_MAX_OPS = 100;
export const FLUSH_MAX_IDS = 1_000;

export type MemberChange =
  /**
   * skipFull (a rule's adds): users a limit keeps out (already in as many groups as the tenant allows, or past
   * the group's room) are left out, not refused.
   * expiresAt (direct source only): when the direct membership ends; null: never; undefined: as it is.
   */
  | { kind: "add"; ids: string[]; role: MemberRole; displays: Record<string, string>; skipFull?: boolean; expiresAt?: number | null }
  | { kind: "remove"; ids: string[] }
  /** A member's role and the expiry of their direct membership; undefined: as it is. */
  | { kind: "update"; userId: string; role?: MemberRole; expiresAt?: number | null }
  /** The coordinator's sweep: these users' direct source has expired; the rows it alone held go. */
  | { kind: "expire"; ids: string[] };

export interface QueuedChange {
  change: MemberChange;
  actor: string;
  source: string;
  authority: Authority;
  /** The versions If-Match allows the group to be at when this change applies; undefined: any. */
  expect?: readonly number[];
  /** The public surface it came through, the source the change stream names (source above is the membership's). */
  surface?: string;
}

/**
 * Each value carries the group's version right after its change (its new entity tag). event: what the change
 * stream says the change did (the users whose membership it began or ended, and whom it touched otherwise).
 */
export type ChangeResult =
  | {
      ok: true;
      value: (Omit<AddResult, "added_ids"> | RemoveResult | object) & { version: number; skipped?: string[] };
      event?: Record<string, unknown>;
    }
  | { ok: false; error: CoreError };

export const idsOfChange = (c: MemberChange) => (c.kind === "update" ? [c.userId] : c.ids);

export interface FlushHooks {
  /** The first of n consecutive sequence numbers for the changes that apply. */
  reserveSeqs(n: number): Promise<number>;
  /** Called with the users whose claims change, just before the write (see MutationMeta.beforeCommit). */
  beforeCommit(userIds: string[]): Promise<void>;
}

interface Seat {
  member: boolean;
  role: string;
  /** Which sources hold the membership (bits of sources.ts); 0 when not a member. */
  sources: number;
  /** When the direct source stops holding; null: never. */
  expiresAt: number | null;
  /** undefined: as stored. */
  display?: string | null;
  /** Its membership row is written anew (added here, or removed and added again). */
  fresh: boolean;
  /** The row as D1 holds it (undefined: none), whose expired direct source no longer counts above. */
  stored?: { sources: number; expiresAt: number | null; expired: boolean };
  /** An expire change takes the row's expired direct source away. */
  purge?: boolean;
  /** A row stands for the user as things are now (the group's count is of rows, an expired one included until it goes). */
  row: boolean;
}

interface Known {
  memberCount: number | null;
  version: number;
  settings: TenantSettings;
  top: number | null;
  best: Map<string, number | null>;
  seats: Map<string, Seat>;
  groupsOf: Map<string, number>;
}

const authorityKey = (a: Authority) => JSON.stringify([...a.roleKeys].sort());

/** Everything the changes check, in one round trip. */
async function read(db: Db, tenantId: string, groupId: string, queue: QueuedChange[]): Promise<Known> {
  const all = [...new Set(queue.flatMap((q) => idsOfChange(q.change)))];
  const adding = [...new Set(queue.flatMap((q) => (q.change.kind === "add" ? q.change.ids : [])))];
  const bound = [...new Map(queue.filter((q) => !q.authority.exempt).map((q) => [authorityKey(q.authority), q.authority])).entries()];
  const results = await batch(db, [
    sql`SELECT (SELECT member_count FROM groups WHERE tenant_id = ${tenantId} AND id = ${groupId}) AS member_count,
               (SELECT version FROM groups WHERE tenant_id = ${tenantId} AND id = ${groupId}) AS version,
               (SELECT settings FROM tenant_config WHERE tenant_id = ${tenantId}) AS settings`,
    existingMembersQuery(tenantId, groupId, all),
    groupsOfQuery(tenantId, adding),
    ...bound.map(([, who]) => sql`SELECT ${memberRuleLevelsSql(tenantId, groupId, who)}`),
  ]);
  const head = results[0]!.results[0] as { member_count: number | null; version: number | null; settings: string | null };
  const seats = new Map<string, Seat>();
  const at = Date.now();
  for (const r of results[1]!.results as { user_id: string; role: string; sources: number; expires_at: number | null }[]) {
    // A direct source past its expiry holds nothing, as the reads see it (live_memberships).
    const expired = r.expires_at !== null && r.expires_at <= at;
    const sources = expired ? r.sources & ~SOURCE_BITS.direct : r.sources;
    seats.set(r.user_id, {
      member: sources !== 0,
      role: r.role,
      sources,
      expiresAt: expired ? null : r.expires_at,
      fresh: false,
      stored: { sources: r.sources, expiresAt: r.expires_at, expired },
      row: true,
    });
  }
  const levels = bound.map((_, i) => results[3 + i]!.results[0] as { best: number | null; top: number | null });
  return {
    memberCount: head.member_count,
    version: head.version ?? 0,
    settings: parseStored(head.settings),
    top: levels[0]?.top ?? null,
    best: new Map(bound.map(([key], i) => [key, levels[i]!.best])),
    seats,
    groupsOf: new Map((results[2]!.results as { user_id: string; n: number }[]).map((r) => [r.user_id, r.n])),
  };
}

/** One change against the state so far: its result, and the state after it (unchanged when refused). */
function play(groupId: string, k: Known, q: QueuedChange): ChangeResult {
  try {
    if (!q.authority.exempt) checkMayChangeMembers(groupId, q.authority, k.best.get(authorityKey(q.authority)) ?? null, k.top);
    if (k.memberCount === null) throw notFound("group", groupId);
    checkVersion(q.expect, k.version, `group '${groupId}'`);
    const c = q.change;
    const bit = sourceBit(q.source);
    const isMember = (u: string) => k.seats.get(u)?.member === true;
    const direct = bit === SOURCE_BITS.direct;
    if (c.kind === "add") {
      const newcomers = c.ids.filter((u) => !isMember(u));
      const isFull = (u: string) => (k.groupsOf.get(u) ?? 0) >= k.settings.maxGroupsPerUser;
      // A rule's add leaves out whom a limit keeps out (the group full, or the user in as many groups as allowed).
      const room = k.settings.maxMembersPerGroup - k.memberCount;
      const fits = c.skipFull ? newcomers.filter((u) => !isFull(u)).slice(0, Math.max(0, room)) : newcomers;
      const fitting = new Set(fits);
      const skipped = c.skipFull ? newcomers.filter((u) => !fitting.has(u)) : [];
      const fresh = fits;
      // Counts are of rows: a newcomer whose expired row still stands takes no new one.
      const newRows = fresh.filter((u) => !k.seats.get(u)?.row).length;
      checkMembersPerGroup(groupId, k.memberCount + newRows, k.settings);
      checkGroupsPerUser(
        fresh
          .filter(isFull)
          .sort()
          .map((u) => ({ user_id: u, n: k.groupsOf.get(u)! })),
        k.settings,
      );
      for (const u of fresh) {
        const expiresAt = direct ? (c.expiresAt ?? null) : null;
        const stored = k.seats.get(u)?.stored;
        const hadRow = k.seats.get(u)?.row === true;
        k.seats.set(u, {
          member: true,
          role: c.role,
          sources: bit,
          expiresAt,
          display: c.displays[u] ?? null,
          fresh: true,
          stored,
          row: true,
        });
        if (!hadRow) k.groupsOf.set(u, (k.groupsOf.get(u) ?? 0) + 1);
      }
      for (const u of c.ids.filter(isMember)) {
        const seat = k.seats.get(u)!;
        seat.sources |= bit;
        if (direct && c.expiresAt !== undefined) seat.expiresAt = c.expiresAt;
      }
      for (const [u, display] of Object.entries(c.displays)) if (isMember(u)) k.seats.get(u)!.display = display;
      k.memberCount += newRows;
      const joining = new Set(newcomers);
      const already = c.ids.filter((u) => !joining.has(u));
      return {
        ok: true,
        value: { added: fresh.length, already_members: already.length, version: ++k.version, ...(skipped.length ? { skipped } : {}) },
        event: { user_ids: fresh, ...(already.length ? { already_members: already } : {}), ...(skipped.length ? { skipped } : {}) },
      };
    }
    if (c.kind === "remove") {
      const left: string[] = [];
      const stillMembers: RemoveResult["still_members"] = [];
      for (const u of c.ids.filter(isMember)) {
        const seat = k.seats.get(u)!;
        seat.sources &= ~bit;
        if (direct) seat.expiresAt = null;
        if (seat.sources !== 0) {
          stillMembers.push({ user_id: u, sources: sourceNames(seat.sources) });
          continue;
        }
        k.seats.set(u, { member: false, role: "", sources: 0, expiresAt: null, fresh: false, stored: seat.stored, row: false });
        k.groupsOf.set(u, (k.groupsOf.get(u) ?? 1) - 1);
        left.push(u);
      }
      k.memberCount -= left.length;
      const notMembers = c.ids.length - left.length - stillMembers.length;
      return {
        ok: true,
        value: { removed: left.length, not_members: notMembers, still_members: stillMembers, version: ++k.version },
        event: { user_ids: left, ...(stillMembers.length ? { still_members: stillMembers } : {}) },
      };
    }
    if (c.kind === "expire") {
      let removed = 0;
      for (const u of c.ids) {
        const seat = k.seats.get(u);
        if (!seat?.stored?.expired) continue;
        seat.purge = true;
        if (!seat.member && seat.row) {
          seat.row = false;
          k.groupsOf.set(u, (k.groupsOf.get(u) ?? 1) - 1);
          k.memberCount -= 1;
          removed += 1;
        }
      }
      return { ok: true, value: { removed, version: ++k.version } };
    }
    if (!isMember(c.userId)) throw notMember(c.userId, groupId);
    const seat = k.seats.get(c.userId)!;
    if (c.expiresAt !== undefined && (seat.sources & SOURCE_BITS.direct) === 0) {
      throw new CoreError(
        "conflict",
        `user '${c.userId}' holds group '${groupId}' through ${sourceNames(seat.sources).join(", ")} only; expires_at applies to a direct membership`,
      );
    }
    if (c.role !== undefined) seat.role = c.role;
    if (c.expiresAt !== undefined) seat.expiresAt = c.expiresAt;
    return { ok: true, value: { version: ++k.version } };
  } catch (e) {
    if (e instanceof CoreError) return { ok: false, error: e };
    throw e;
  }
}

/** A change's event (play's account of an add or remove); expiries as epoch seconds, as the native API states them. */
function auditOf(c: MemberChange, k: Known, played: Record<string, unknown> | undefined) {
  const seconds = (ms: number | null | undefined) => (ms == null ? ms : Math.floor(ms / 1000));
  const expiry = (ms: number | null | undefined) => (ms === undefined ? {} : { expires_at: seconds(ms) });
  switch (c.kind) {
    case "add":
      return { action: "members.add", detail: { ...played, role: c.role, ...expiry(c.expiresAt) } };
    case "remove":
      return { action: "members.remove", detail: played };
    case "expire":
      return {
        action: "members.remove",
        detail: { user_ids: c.ids.filter((u) => k.seats.get(u)?.purge && !k.seats.get(u)?.member), expired: true },
      };
    default:
      return c.role === undefined
        ? { action: "members.expiry", detail: { user_id: c.userId, ...expiry(c.expiresAt) } }
        : { action: "members.role", detail: { user_id: c.userId, role: c.role, ...expiry(c.expiresAt) } };
  }
}

/** Apply the queued changes of one group, in order; one result per change. */
export function applyMemberChanges(db: Db, tenantId: string, groupId: string, queue: QueuedChange[], hooks: FlushHooks) {
  return afterRacingAdds(() => applyOnce(db, tenantId, groupId, queue, hooks));
}

async function applyOnce(db: Db, tenantId: string, groupId: string, queue: QueuedChange[], hooks: FlushHooks): Promise<ChangeResult[]> {
  const known = await read(db, tenantId, groupId, queue);
  const before = new Map([...known.seats].map(([u, s]) => [u, { ...s }]));
  const results = queue.map((q) => play(groupId, known, q));
  const applied = queue.filter((_, i) => results[i]!.ok);
  if (applied.length === 0) return results;

  const t = tenantId;
  const g = groupId;
  const joined: string[] = [];
  const left: string[] = [];
  const rewritten: [string, string, number, string | null, number | null][] = [];
  const roles: [string, string][] = [];
  const held: [string, number, number | null][] = [];
  const displays: [string, string | null][] = [];
  for (const [u, now] of known.seats) {
    const was = before.get(u);
    const row = now.stored;
    if (now.member && !was?.member) joined.push(u);
    if (!now.member && row && (was?.member || now.purge)) left.push(u);
    if (now.member && now.fresh) rewritten.push([u, now.role, now.sources, now.display ?? null, now.expiresAt]);
    else if (now.member && row) {
      if (now.role !== was?.role) roles.push([u, now.role]);
      if (now.sources !== row.sources || now.expiresAt !== row.expiresAt) held.push([u, now.sources, now.expiresAt]);
      if (now.display !== undefined) displays.push([u, now.display]);
    }
  }
  // A row written anew where one stands (removed and added again within the flush, or past its expiry and added again).
  const recreated = rewritten.filter(([u]) => known.seats.get(u)?.stored).map(([u]) => u);
  const at = Date.now();
  const played = results.filter((r) => r.ok);
  const firstSeq = await hooks.reserveSeqs(applied.length);
  const audit = applied.map((q, i) => ({
    id: newId(),
    seq: firstSeq + i,
    actor: q.actor,
    source: q.surface ?? q.source,
    ...auditOf(q.change, known, played[i]!.event),
  }));
  const joinedJson = JSON.stringify(joined);
  const leftJson = JSON.stringify(left);
  const adders: Adder[] = applied.flatMap((q) =>
    q.change.kind === "add" ? [{ actor: q.actor, source: q.surface ?? q.source ?? null, ids: q.change.ids }] : [],
  );
  await hooks.beforeCommit([...joined, ...left, ...recreated]);
  await batch(db, [
    ...(adders.length > 0 ? ensureUsers(t, g, adders, at) : []),
    // Counted before the rows change, as the single changes do, so the counts stay exact.
    adjustSubtreeCounts(t, g, membersAmong(t, g, joinedJson, false), 1),
    adjustSubtreeCounts(t, g, membersAmong(t, g, leftJson, true), -1),
    sql`UPDATE groups SET
          member_count = member_count + (SELECT count(*) FROM (${membersAmong(t, g, joinedJson, false)}))
                                      - (SELECT count(*) FROM (${membersAmong(t, g, leftJson, true)})),
          version = version + ${applied.length}, updated_at = ${at}
        WHERE tenant_id = ${t} AND id = ${g}`,
    sql`DELETE FROM memberships WHERE tenant_id = ${t} AND group_id = ${g}
          AND user_id IN (SELECT value FROM json_each(${JSON.stringify([...left, ...recreated])}))`,
    // The EXISTS guard keeps a membership from outliving its group whatever else races.
    sql`INSERT INTO memberships (tenant_id, group_id, user_id, role, sources, added_at, display, expires_at)
          SELECT ${t}, ${g}, j.value ->> '$[0]', j.value ->> '$[1]', j.value ->> '$[2]', ${at}, j.value ->> '$[3]', j.value ->> '$[4]'
          FROM json_each(${JSON.stringify(rewritten)}) j
          WHERE EXISTS (SELECT 1 FROM groups x WHERE x.tenant_id = ${t} AND x.id = ${g})
          ON CONFLICT DO NOTHING`,
    groupsPerUserHeld(t, joinedJson),
    sql`UPDATE memberships SET role = j.value ->> '$[1]' FROM json_each(${JSON.stringify(roles)}) j
          WHERE memberships.tenant_id = ${t} AND memberships.group_id = ${g} AND memberships.user_id = j.value ->> '$[0]'`,
    sql`UPDATE memberships SET sources = j.value ->> '$[1]', expires_at = j.value ->> '$[2]' FROM json_each(${JSON.stringify(held)}) j
          WHERE memberships.tenant_id = ${t} AND memberships.group_id = ${g} AND memberships.user_id = j.value ->> '$[0]'`,
    sql`UPDATE memberships SET display = j.value ->> '$[1]' FROM json_each(${JSON.stringify(displays)}) j
          WHERE memberships.tenant_id = ${t} AND memberships.group_id = ${g} AND memberships.user_id = j.value ->> '$[0]'`,
    // In arrival order: the rows' cursors then follow the changes' sequence numbers.
    sql`INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, seq, detail)
          SELECT ${t}, j.value ->> 'id', ${at}, j.value ->> 'actor', j.value ->> 'source', j.value ->> 'action', 'group', ${g}, j.value ->> 'seq', json(j.value -> 'detail')
          FROM json_each(${JSON.stringify(audit)}) j ORDER BY j.key`,
  ]);
  return results;
}
