// The set-based statements behind the membership mutations that run alone on the group's
// coordinator (replace, delete, the analytics ingest); adds, removes and role changes from
// callers are group-committed by flush.ts. Only the coordinator calls these, one at a
// time, so the reads before a batch still hold when the batch runs.
// Id lists travel as one JSON parameter expanded with json_each (D1 binds at most
// 100 parameters), and each mutation is one D1 batch: applied whole or not at all.
// json_each is joined with CROSS JOIN, which makes SQLite walk the id list and look
// each id up by index; a plain JOIN lets it scan the whole group instead.
import { type SQL, sql } from "drizzle-orm";
import { parseStored, type TenantSettings } from "../config/rules";
import { eventStatement } from "../events/writes";
import { adjustSubtreeCounts, forgetSubtreeCounts, idsOf, membersAmong } from "../hierarchy/subtree-counts";
import { type ClaimRefresh, subtreeBeforeWrite, subtreeJoiners, subtreeUsers } from "../hierarchy/subtree-users";
import { batch, type Db, returnedOf } from "../shared/context";
import { notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { checkVersion } from "../shared/versions";
import { afterRacingAdds, checkGroupsPerUser, checkMembersPerGroup, groupsPerUserHeld } from "./rules";
import { type MembershipSource, SOURCE_BITS, sourceBit } from "./sources";

export type MemberRole = "member" | "admin";

export interface MutationMeta extends ClaimRefresh {
  tenantId: string;
  groupId: string;
  actor: string;
  seq: number;
  /** The caller's source: which membership source (core/members/sources.ts) it adds and removes. */
  source: string;
  /**
   * After a batch whose writer named, before it, more users than it could know would change:
   * the users it did change (none if it rolled back). The others' refresh is dropped.
   */
  changedOnly?: (userIds: string[]) => Promise<void>;
  /** The versions the request's If-Match allows the group to be at; undefined: any. */
  expect?: readonly number[];
  /** The public surface the change came through, the source the change stream names (source above is the membership's). */
  surface?: string;
}

interface GroupState {
  memberCount: number;
  version: number;
}

async function groupState(db: Db, tenantId: string, groupId: string): Promise<GroupState> {
  const row = await db.get<{ member_count: number; version: number }>(
    sql`SELECT member_count, version FROM groups WHERE tenant_id = ${tenantId} AND id = ${groupId}`,
  );
  if (!row) throw notFound("group", groupId);
  return { memberCount: row.member_count, version: row.version };
}

/** Which of these ids are members of the group already, with their roles. */
export const existingMembersQuery = (tenantId: string, groupId: string, ids: string[]) =>
  sql`SELECT m.user_id, m.role, m.sources, m.expires_at FROM json_each(${JSON.stringify(ids)}) j
      CROSS JOIN memberships m ON m.tenant_id = ${tenantId} AND m.group_id = ${groupId} AND m.user_id = j.value`;

/** How many groups each of these users is in (a user in none is not listed). */
export const groupsOfQuery = (tenantId: string, ids: string[]) =>
  sql`SELECT m.user_id, count(*) AS n FROM json_each(${JSON.stringify(ids)}) j
      CROSS JOIN memberships m ON m.tenant_id = ${tenantId} AND m.user_id = j.value
      GROUP BY m.user_id`;

/**
 * What an add or replace checks before writing, in one read: the group's count (404 if
 * it is gone), the tenant's settings, which of these ids are members already, and how many
 * groups each is in (the per-user limit).
 */
export const preAddColumns = (tenantId: string, groupId: string, ids: string[]) => sql`
    (SELECT member_count FROM groups WHERE tenant_id = ${tenantId} AND id = ${groupId}) AS member_count,
    (SELECT version FROM groups WHERE tenant_id = ${tenantId} AND id = ${groupId}) AS version,
    (SELECT settings FROM tenant_config WHERE tenant_id = ${tenantId}) AS settings,
    (SELECT json_group_array(e.user_id) FROM (${existingMembersQuery(tenantId, groupId, ids)}) e) AS existing,
    (SELECT json_group_array(json_array(c.user_id, c.n)) FROM (${groupsOfQuery(tenantId, ids)}) c) AS groups_of`;

export interface PreAdd {
  state: GroupState;
  settings: TenantSettings;
  existing: Set<string>;
  /** Groups each user is in, where any. */
  groupsOf: Map<string, number>;
}

/** The columns of preAddColumns, read (possibly as part of a larger read) → what an add checks. */
export function preAddOf(
  groupId: string,
  row: { member_count: number | null; version?: number | null; settings: string | null; existing: string; groups_of: string } | undefined,
): PreAdd {
  if (row?.member_count == null) throw notFound("group", groupId);
  return {
    state: { memberCount: row.member_count, version: row.version ?? 0 },
    settings: parseStored(row.settings),
    existing: new Set(JSON.parse(row.existing) as string[]),
    groupsOf: new Map(JSON.parse(row.groups_of) as [string, number][]),
  };
}

/** 422 if any of these joining users is already in as many groups as the tenant allows. */
function refuseFullUsers(fresh: string[], pre: PreAdd) {
  const full = fresh.filter((u) => (pre.groupsOf.get(u) ?? 0) >= pre.settings.maxGroupsPerUser).sort();
  checkGroupsPerUser(
    full.map((u) => ({ user_id: u, n: pre.groupsOf.get(u)! })),
    pre.settings,
  );
}

async function preAddState(db: Db, tenantId: string, groupId: string, ids: string[]): Promise<PreAdd> {
  return preAddOf(groupId, await db.get(sql`SELECT ${preAddColumns(tenantId, groupId, ids)}`));
}

/** targetType "hierarchy": logged by the tenant's hierarchy coordinator, whose sequence numbers are its own. */
export function auditStatement(m: MutationMeta, action: string, detail: unknown, now: number, targetType: "group" | "hierarchy" = "group") {
  return eventStatement(m, action, { type: targetType, id: m.groupId, seq: m.seq }, detail, now);
}

/** Who asked for some of a change's users: user.created names, per caller, the ones no user had yet. */
export interface Adder {
  actor: string;
  source: string | null;
  ids: string[];
}

/**
 * Bare profiles for ids no user has yet, so a membership never points at nothing: first one
 * user.created event per caller naming the users it brings (before the insert, which is how
 * it sees which are new), then the profiles. Two statements for the batch.
 */
export function ensureUsers(tenantId: string, groupId: string, adders: Adder[], now: number): SQL[] {
  const seen = new Set<string>();
  const entries = adders.map((a) => ({
    id: newId(),
    actor: a.actor,
    source: a.source,
    ids: a.ids.filter((u) => !seen.has(u) && seen.add(u)),
  }));
  const all = JSON.stringify([...seen]);
  return [
    // x is materialized: as a subquery SQLite flattened it and looked the users up once per use of fresh (three).
    sql`INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, seq, detail)
        WITH x AS MATERIALIZED (
          SELECT e.key, e.value,
                 (SELECT json_group_array(j.value) FROM json_each(e.value -> 'ids') j
                  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = ${tenantId} AND u.id = j.value)) AS fresh
          FROM json_each(${JSON.stringify(entries)}) e)
        SELECT ${tenantId}, x.value ->> 'id', ${now}, x.value ->> 'actor', x.value ->> 'source', 'user.create', 'user', x.fresh ->> '$[0]', NULL,
               json_object('user_ids', json(x.fresh), 'group_id', ${groupId})
        FROM x WHERE json_array_length(x.fresh) > 0 ORDER BY x.key`,
    sql`INSERT INTO users (tenant_id, id, created_at, updated_at)
        SELECT ${tenantId}, j.value, ${now}, ${now} FROM json_each(${all}) j WHERE true
        ON CONFLICT DO NOTHING`,
  ];
}

const adderOf = (m: MutationMeta, idsJson: string): Adder => ({
  actor: m.actor,
  source: m.surface ?? m.source ?? null,
  ids: JSON.parse(idsJson) as string[],
});

/** expiresAt: when the direct source stops holding (only the direct source expires). */
function insertMembers(m: MutationMeta, idsJson: string, role: MemberRole, now: number, expiresAt?: number) {
  const bit = sourceBit(m.source);
  const expiry = bit === SOURCE_BITS.direct ? (expiresAt ?? null) : null;
  // The EXISTS guard keeps a membership from outliving its group whatever else races.
  return sql`INSERT INTO memberships (tenant_id, group_id, user_id, role, sources, added_at, expires_at)
             SELECT ${m.tenantId}, ${m.groupId}, j.value, ${role}, ${bit}, ${now}, ${expiry} FROM json_each(${idsJson}) j
             WHERE EXISTS (SELECT 1 FROM groups g WHERE g.tenant_id = ${m.tenantId} AND g.id = ${m.groupId})
             ON CONFLICT DO NOTHING`;
}

/** Members among these ids that the caller's source did not hold yet now hold it too (the direct source until expiresAt, when stated). */
function holdBySource(m: MutationMeta, idsJson: string, expiresAt?: number) {
  const bit = sourceBit(m.source);
  const expiry = bit === SOURCE_BITS.direct && expiresAt !== undefined;
  return sql`UPDATE memberships SET sources = sources | ${bit}${expiry ? sql`, expires_at = ${expiresAt}` : sql``}
             WHERE tenant_id = ${m.tenantId} AND group_id = ${m.groupId} AND ${expiry ? sql`true` : sql`(sources & ${bit}) = 0`}
               AND user_id IN (SELECT value FROM json_each(${idsJson}))`;
}

/**
 * An add's event, read before its insert: user_ids are the users it makes members, already_members (when any) those
 * who were members and are now also held through the caller's source, as flush.ts says of a group-committed add.
 */
function addedDetail(m: MutationMeta, idsJson: string, role: MemberRole) {
  // One pass over the ids: json_each drives the LEFT JOIN, each id looked up once by the memberships' key.
  const ids = (member: boolean) => sql`json(json_group_array(j.value) FILTER (WHERE x.user_id IS ${member ? sql`NOT NULL` : sql`NULL`}))`;
  return sql`(SELECT json_patch(json_object('user_ids', ${ids(false)}, 'role', ${role}),
                CASE WHEN count(x.user_id) > 0 THEN json_object('already_members', ${ids(true)}) ELSE '{}' END)
              FROM json_each(${idsJson}) j
              LEFT JOIN memberships x ON x.tenant_id = ${m.tenantId} AND x.group_id = ${m.groupId} AND x.user_id = j.value)`;
}

export interface AddResult {
  added: number;
  already_members: number;
  added_ids: string[];
}

/**
 * The statements that add these users (JSON id list) to the group, for a batch: each
 * statement reads what the ones before it wrote, so the counts are exact whatever raced
 * the reads before the batch.
 */
export function addStatements(
  m: MutationMeta,
  idsJson: string,
  role: MemberRole,
  now: number,
  displays: Record<string, string> = {},
): SQL[] {
  return [
    ...ensureUsers(m.tenantId, m.groupId, [adderOf(m, idsJson)], now),
    adjustSubtreeCounts(m.tenantId, m.groupId, membersAmong(m.tenantId, m.groupId, idsJson, false), 1),
    sql`UPDATE groups SET
                 member_count = member_count + (SELECT count(*) FROM json_each(${idsJson}) j WHERE NOT EXISTS
                   (SELECT 1 FROM memberships x WHERE x.tenant_id = ${m.tenantId} AND x.group_id = ${m.groupId} AND x.user_id = j.value)),
                 version = version + 1, updated_at = ${now}
               WHERE tenant_id = ${m.tenantId} AND id = ${m.groupId}`,
    auditStatement(m, "members.add", addedDetail(m, idsJson, role), now),
    insertMembers(m, idsJson, role, now),
    holdBySource(m, idsJson),
    ...(Object.keys(displays).length === 0
      ? []
      : [
          sql`UPDATE memberships SET display = json_extract(j.value, '$[1]') FROM json_each(${JSON.stringify(Object.entries(displays))}) j
          WHERE memberships.tenant_id = ${m.tenantId} AND memberships.group_id = ${m.groupId} AND memberships.user_id = json_extract(j.value, '$[0]')`,
        ]),
  ];
}

/** displays: how the caller names some of these members (SCIM members[].display), kept with the membership. */
export async function addMembers(
  db: Db,
  m: MutationMeta,
  ids: string[],
  role: MemberRole,
  displays: Record<string, string> = {},
  pre?: PreAdd,
  /** More statements for the same batch (an ingest's traits), run after the add; their results are returned. */
  also: SQL[] = [],
): Promise<Pick<AddResult, "added_ids"> & { also: D1Result[] }> {
  return afterRacingAdds(async (attempt) => {
    // A retry reads again: the state given was read before another group's add of these users landed.
    const known = (attempt === 1 ? pre : undefined) ?? (await preAddState(db, m.tenantId, m.groupId, ids));
    const fresh = ids.filter((id) => !known.existing.has(id));
    checkMembersPerGroup(m.groupId, known.state.memberCount + fresh.length, known.settings);
    refuseFullUsers(fresh, known);
    await m.beforeCommit?.(fresh);
    const results = await batch(db, [
      ...addStatements(m, JSON.stringify(ids), role, Date.now(), displays),
      groupsPerUserHeld(m.tenantId, JSON.stringify(fresh)),
      ...also,
    ]);
    return { added_ids: fresh, also: results.slice(results.length - also.length) };
  });
}

/** A replaced event names at most this many of the users who left (removed_count says how many left in all). */
export const REPLACED_EVENT_REMOVED_MAX = 1_000;

/**
 * A replace's event: user_ids, the users the caller's source now holds; added, those who were not members before;
 * removed, those who left the group (no other source holds them), at most REPLACED_EVENT_REMOVED_MAX of them.
 */
function replacedDetail(ids: string[], role: MemberRole, fresh: string[], leaving: string[]) {
  return {
    user_ids: ids,
    role,
    added: fresh,
    removed: leaving.slice(0, REPLACED_EVENT_REMOVED_MAX),
    ...(leaving.length > REPLACED_EVENT_REMOVED_MAX ? { removed_count: leaving.length } : {}),
  };
}

export interface RemoveResult {
  removed: number;
  not_members: number;
  /** Members the caller's source no longer holds but another source still does. */
  still_members: { user_id: string; sources: MembershipSource[] }[];
}

export interface ReplaceResult {
  added: number;
  removed: number;
  member_count: number;
  version: number;
  changed_ids: string[];
}

/**
 * Make the members the caller's source holds exactly this set: the listed users hold the
 * group through it, the others lose it (and leave when no other source holds them).
 */
export function replaceMembers(db: Db, m: MutationMeta, ids: string[], role: MemberRole, expiresAt?: number): Promise<ReplaceResult> {
  return afterRacingAdds(() => replaceOnce(db, m, ids, role, expiresAt));
}

async function replaceOnce(db: Db, m: MutationMeta, ids: string[], role: MemberRole, expiresAt?: number): Promise<ReplaceResult> {
  const known = await preAddState(db, m.tenantId, m.groupId, ids);
  checkVersion(m.expect, known.state.version, `group '${m.groupId}'`);
  const idsJson = JSON.stringify(ids);
  const bit = sourceBit(m.source);
  const unlisted = await db.all<{ user_id: string; sources: number }>(
    sql`SELECT user_id, sources FROM memberships WHERE tenant_id = ${m.tenantId} AND group_id = ${m.groupId}
        AND user_id NOT IN (SELECT value FROM json_each(${idsJson}))`,
  );
  const leaving = unlisted.filter((r) => r.sources === bit).map((r) => r.user_id);
  checkMembersPerGroup(m.groupId, ids.length + unlisted.length - leaving.length, known.settings);
  const fresh = ids.filter((id) => !known.existing.has(id));
  refuseFullUsers(fresh, known);
  const changed = [...fresh, ...leaving];
  const now = Date.now();
  await m.beforeCommit?.(changed);
  const t = m.tenantId;
  const g = m.groupId;
  const unlistedHere = sql`user_id NOT IN (SELECT value FROM json_each(${idsJson}))`;
  const results = await batch(db, [
    ...ensureUsers(t, g, [adderOf(m, idsJson)], now),
    adjustSubtreeCounts(
      t,
      g,
      sql`SELECT user_id FROM memberships WHERE tenant_id = ${t} AND group_id = ${g} AND sources = ${bit} AND ${unlistedHere}`,
      -1,
    ),
    adjustSubtreeCounts(t, g, membersAmong(t, g, idsJson, false), 1),
    sql`DELETE FROM memberships WHERE tenant_id = ${t} AND group_id = ${g} AND sources = ${bit} AND ${unlistedHere} RETURNING 1`,
    sql`${insertMembers(m, idsJson, role, now, expiresAt)} RETURNING 1`,
    groupsPerUserHeld(t, JSON.stringify(fresh)),
    sql`UPDATE memberships SET sources = sources & ~${bit}${bit === SOURCE_BITS.direct ? sql`, expires_at = NULL` : sql``}
        WHERE tenant_id = ${t} AND group_id = ${g} AND (sources & ${bit}) != 0 AND ${unlistedHere}`,
    holdBySource(m, idsJson, expiresAt),
    sql`UPDATE groups SET member_count = (SELECT count(*) FROM memberships WHERE tenant_id = ${t} AND group_id = ${g}),
               version = version + 1, updated_at = ${now}
        WHERE tenant_id = ${t} AND id = ${g}`,
    auditStatement(m, "members.replace", replacedDetail(ids, role, fresh, leaving), now),
  ]);
  return {
    added: returnedOf(results, 5),
    removed: returnedOf(results, 4),
    member_count: ids.length + unlisted.length - leaving.length,
    // Serialised by the coordinator: the replace is the one change after the version it read.
    version: known.state.version + 1,
    changed_ids: changed,
  };
}

/** A sweep of expired memberships takes at most this many users at a time (one group commit each). */
export const EXPIRE_CHUNK = 1_000;

/** The users whose direct membership of the group had expired by `now` (at most EXPIRE_CHUNK), and when the next one expires. */
export async function expiryState(db: Db, tenantId: string, groupId: string, now: number): Promise<{ due: string[]; next: number | null }> {
  const [due, next] = await batch(db, [
    sql`SELECT user_id FROM memberships WHERE tenant_id = ${tenantId} AND group_id = ${groupId} AND expires_at <= ${now}
        ORDER BY expires_at LIMIT ${EXPIRE_CHUNK}`,
    sql`SELECT min(expires_at) AS next FROM memberships WHERE tenant_id = ${tenantId} AND group_id = ${groupId} AND expires_at > ${now}`,
  ]);
  return {
    due: (due!.results as { user_id: string }[]).map((r) => r.user_id),
    next: (next!.results[0] as { next: number | null } | undefined)?.next ?? null,
  };
}

/** Every member's id, for refreshing claims after the group's deletion. */
async function allMemberIds(db: Db, tenantId: string, groupId: string): Promise<string[]> {
  const rows = await db.all<{ user_id: string }>(
    sql`SELECT user_id FROM memberships WHERE tenant_id = ${tenantId} AND group_id = ${groupId}`,
  );
  return rows.map((r) => r.user_id);
}

/** Delete the group with everything that hangs off it; returns its former members. */
export async function deleteGroup(db: Db, m: MutationMeta): Promise<string[]> {
  checkVersion(m.expect, (await groupState(db, m.tenantId, m.groupId)).version, `group '${m.groupId}'`);
  const members = await allMemberIds(db, m.tenantId, m.groupId);
  const now = Date.now();
  const t = m.tenantId;
  const g = m.groupId;
  // Everyone who holds the group, directly or below it.
  const holders = await subtreeBeforeWrite(db, t, [g], m);
  const results = await batch(db, [
    // First, while the edges still say which groups are below and above this one.
    subtreeUsers(t, [g]),
    forgetSubtreeCounts(t, idsOf([g])),
    sql`DELETE FROM memberships WHERE tenant_id = ${t} AND group_id = ${g}`,
    sql`DELETE FROM group_edges WHERE tenant_id = ${t} AND (parent_id = ${g} OR child_id = ${g})`,
    sql`DELETE FROM group_roles WHERE tenant_id = ${t} AND group_id = ${g}`,
    sql`DELETE FROM group_traits WHERE tenant_id = ${t} AND group_id = ${g}`,
    sql`DELETE FROM group_rules WHERE tenant_id = ${t} AND group_id = ${g}`,
    sql`DELETE FROM groups WHERE tenant_id = ${t} AND id = ${g}`,
    auditStatement(m, "group.delete", { members: members.length }, now),
  ]);
  await subtreeJoiners(results[0]!, holders, m);
  return members;
}
