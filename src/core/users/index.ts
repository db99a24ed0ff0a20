import { and, asc, eq, gt, inArray, type SQL, sql } from "drizzle-orm";
import { groups, liveMemberships, users } from "../../db/schema";
import { forgetClaim, journalClaim } from "../claims";
import { eventStatement } from "../events/writes";
import { forgetSubtreeCounts } from "../hierarchy/subtree-counts";
import { type MembershipSource, sourceNames } from "../members/sources";
import { owedToken, profileOwed, reevaluateUsers } from "../rules";
import { batch, changesOf, type Scope } from "../shared/context";
import { CoreError, isUniqueViolation, notFound, notMember } from "../shared/errors";
import { decodeCursor, type Page, pageOf } from "../shared/paging";
import { RACE_TRIES } from "../shared/preconditions";
import { rowOf } from "../shared/rows";
import { currentTagOf, etagOf, staleVersion } from "../shared/versions";

export type { UserRow } from "../../db/schema";

import type { UserRow } from "../../db/schema";

export interface UserProfile {
  email?: string | null;
  phoneNumber?: string | null;
  name?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  picture?: string | null;
  customData?: Record<string, unknown>;
  userName?: string | null;
  externalId?: string | null;
  active?: boolean;
  /** SCIM attributes without a column, as a JSON object. */
  scimAttributes?: Record<string, unknown> | null;
}

const whereUser = (scope: Scope, userId: string) => and(eq(users.tenantId, scope.tenantId), eq(users.id, userId));

/** The user's row, as a statement of a write's batch sees it in the write's own transaction (before or after the write). */
const userAsWritten = (scope: Scope, userId: string) => scope.db.select().from(users).where(whereUser(scope, userId)).getSQL();

/**
 * A write that wrote nothing, from the row its own batch read (so no other write lands between): the user was gone
 * (404), at a version If-Match did not name (412), or already as the write would leave it (that row).
 */
function unwritten(scope: Scope, userId: string, found: D1Result): UserRow {
  const raw = found.results[0] as Record<string, unknown> | undefined;
  if (!raw) throw notFound("user", userId);
  const row = rowOf(users, raw);
  if (scope.expect && !scope.expect.includes(row.version)) throw staleVersion(`user '${userId}'`, row.version);
  return row;
}

/**
 * Whether these columns would change the stored user (SQL): a write that changes nothing
 * records nothing, so an identical PUT keeps the version (an ETag held stays good) and sends no event.
 */
function changesUser(scope: Scope, userId: string, set: Partial<UserRow>): SQL {
  const differs = Object.entries(set).map(([key, value]) => {
    const column = users[key as keyof typeof users.$inferSelect];
    return sql`${column} IS NOT ${typeof value === "boolean" ? Number(value) : value}`;
  });
  if (differs.length === 0) return sql`false`;
  return sql`EXISTS (SELECT 1 FROM users WHERE tenant_id = ${scope.tenantId} AND id = ${userId} AND (${sql.join(differs, sql` OR `)}))`;
}

function columnsOf(p: UserProfile): Partial<UserRow> {
  const set: Partial<UserRow> = {};
  if (p.email !== undefined) Object.assign(set, { email: p.email, emailKey: p.email?.toLowerCase() ?? null });
  if (p.phoneNumber !== undefined) set.phoneNumber = p.phoneNumber;
  if (p.name !== undefined) set.name = p.name;
  if (p.givenName !== undefined) set.givenName = p.givenName;
  if (p.familyName !== undefined) set.familyName = p.familyName;
  if (p.picture !== undefined) set.picture = p.picture;
  if (p.customData !== undefined) set.customData = JSON.stringify(p.customData);
  if (p.userName !== undefined) Object.assign(set, { userName: p.userName, userNameKey: p.userName?.toLowerCase() ?? null });
  if (p.externalId !== undefined) set.externalId = p.externalId;
  if (p.active !== undefined) set.active = p.active;
  if (p.scimAttributes !== undefined) set.scimAttributes = p.scimAttributes === null ? null : JSON.stringify(p.scimAttributes);
  return set;
}

/** A profile field as a change event shows it: its wire name, and the stored column as JSON. */
const SHOWN: Partial<Record<keyof UserProfile, [string, SQL]>> = {
  email: ["email", sql`email`],
  phoneNumber: ["phone_number", sql`phone_number`],
  name: ["name", sql`name`],
  givenName: ["given_name", sql`given_name`],
  familyName: ["family_name", sql`family_name`],
  picture: ["picture", sql`picture`],
  customData: ["custom_data", sql`json(custom_data)`],
  userName: ["user_name", sql`user_name`],
  externalId: ["external_id", sql`external_id`],
  active: ["active", sql`json(CASE WHEN active THEN 'true' ELSE 'false' END)`],
};
const shownKeys = (p: UserProfile) => (Object.keys(p) as (keyof UserProfile)[]).filter((k) => p[k] !== undefined && SHOWN[k]);

/** The given fields as stored now (SQL, JSON text): an event's before, read in the batch ahead of the write. */
const storedFields = (scope: Scope, userId: string, keys: (keyof UserProfile)[]) =>
  sql`(SELECT json_object(${sql.join(
    keys.map((k) => sql`${SHOWN[k]![0]}, ${SHOWN[k]![1]}`),
    sql`, `,
  )}) FROM users WHERE tenant_id = ${scope.tenantId} AND id = ${userId})`;
/** The given fields as the change sets them. */
const givenFields = (p: UserProfile, keys: (keyof UserProfile)[]) => Object.fromEntries(keys.map((k) => [SHOWN[k]![0], p[k]]));

/** user.update with before (from the row) and after (the patch), when the row exists and the write's condition holds. */
const userUpdatedEvent = (scope: Scope, userId: string, p: UserProfile, at: number, allowed: SQL) => {
  const keys = shownKeys(p);
  return eventStatement(
    scope,
    "user.update",
    { type: "user", id: userId },
    sql`json_object('before', json(${storedFields(scope, userId, keys)}), 'after', json(${JSON.stringify(givenFields(p, keys))}))`,
    at,
    sql`EXISTS (SELECT 1 FROM users WHERE tenant_id = ${scope.tenantId} AND id = ${userId}) AND ${allowed}`,
  );
};
const userCreatedEvent = (scope: Scope, userId: string, p: UserProfile, at: number, onlyIf?: SQL) =>
  eventStatement(scope, "user.create", { type: "user", id: userId }, { after: givenFields(p, shownKeys(p)) }, at, onlyIf);

/** The versions If-Match allows, as a condition on the user's row; true without If-Match. */
const versionAllowed = (scope: Scope, userId: string) =>
  scope.expect
    ? sql`EXISTS (SELECT 1 FROM users WHERE tenant_id = ${scope.tenantId} AND id = ${userId} AND version IN (SELECT value FROM json_each(${JSON.stringify(scope.expect)})))`
    : sql`true`;

function uniquenessError(e: unknown): CoreError | undefined {
  if (isUniqueViolation(e, "email_key"))
    return new CoreError("conflict", "another user has this email", [{ field: "email", message: "must be unique" }]);
  if (isUniqueViolation(e, "phone_number"))
    return new CoreError("conflict", "another user has this phone number", [{ field: "phone_number", message: "must be unique" }]);
  if (isUniqueViolation(e, "user_name_key"))
    return new CoreError("conflict", "another user has this user name", [{ field: "userName", message: "must be unique" }]);
  return undefined;
}

/** A whole profile: fields not given are cleared (PUT and SCIM replace semantics). */
const wholeProfile = (p: UserProfile): UserProfile =>
  Object.fromEntries(
    Object.entries({ ...EMPTY_PROFILE, ...p }).map(([k, v]) => [k, v === undefined ? EMPTY_PROFILE[k as keyof UserProfile] : v]),
  );

const EMPTY_PROFILE: Required<UserProfile> = {
  email: null,
  phoneNumber: null,
  name: null,
  givenName: null,
  familyName: null,
  picture: null,
  customData: {},
  userName: null,
  externalId: null,
  active: true,
  scimAttributes: null,
};

/** Create the user, or replace every profile field of an existing one. */
export async function putUser(scope: Scope, userId: string, profile: UserProfile): Promise<{ row: UserRow; created: boolean }> {
  const whole = wholeProfile(profile);
  // If-Match names a version of an existing user: replacing it is a patch of every field, never a creation.
  if (scope.expect) return { row: await patchUser(scope, userId, whole), created: false };
  const now = Date.now();
  const owed = owedToken(now);
  const columns = columnsOf(whole);
  const set = { ...columns, rulesOwed: profileOwed(scope.tenantId, owed) };
  try {
    const changes = changesUser(scope, userId, columns);
    const upsert = scope.db
      .insert(users)
      .values({ tenantId: scope.tenantId, id: userId, ...set, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: [users.tenantId, users.id],
        set: { ...set, version: sql`${users.version} + 1`, updatedAt: now },
        setWhere: changes,
      })
      .returning();
    // Whether it existed, then the events (they read the row as it was, and state the upsert's own conditions).
    const [existed, , , written, found] = await batch(scope.db, [
      userAsWritten(scope, userId),
      userUpdatedEvent(scope, userId, whole, now, changes),
      userCreatedEvent(
        scope,
        userId,
        whole,
        now,
        sql`NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = ${scope.tenantId} AND id = ${userId})`,
      ),
      upsert.getSQL(),
      userAsWritten(scope, userId),
    ]);
    const raw = written!.results[0] as Record<string, unknown> | undefined;
    if (!raw) return { row: unwritten(scope, userId, found!), created: false };
    const row = rowOf(users, raw);
    await reevaluateUsers(scope, [{ id: userId, token: row.rulesOwed }]);
    return { row, created: existed!.results.length === 0 };
  } catch (e) {
    throw uniquenessError(e) ?? e;
  }
}

const idTaken = (userId: string) =>
  new CoreError("conflict", `user '${userId}' already exists`, [{ field: "user_id", message: "already taken" }]);

/** Whether createUser was refused because the id is taken (another write created the user first). */
export const isIdTaken = (e: unknown) => e instanceof CoreError && e.kind === "conflict" && e.details[0]?.field === "user_id";

export async function createUser(scope: Scope, userId: string, profile: UserProfile): Promise<UserRow> {
  const now = Date.now();
  const whole = wholeProfile(profile);
  try {
    const insert = scope.db
      .insert(users)
      .values({
        tenantId: scope.tenantId,
        id: userId,
        ...columnsOf(whole),
        rulesOwed: profileOwed(scope.tenantId, owedToken(now)),
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    const [inserted] = await batch(scope.db, [insert.getSQL(), userCreatedEvent(scope, userId, whole, now)]);
    const row = rowOf(users, inserted!.results[0] as Record<string, unknown>);
    await reevaluateUsers(scope, [{ id: userId, token: row.rulesOwed }]);
    return row;
  } catch (e) {
    if (isUniqueViolation(e, "users.tenant_id, users.id")) throw idTaken(userId);
    throw uniquenessError(e) ?? e;
  }
}

export interface UserListQuery {
  limit: number;
  cursor?: string;
  /** Only the one user with this address (any case). */
  email?: string;
}

/** A page of the tenant's users in id order (the primary key's range), or the one with an email (its index). */
export const usersPageQuery = (tenantId: string, q: UserListQuery) => sql`SELECT * FROM users WHERE tenant_id = ${tenantId}
  ${q.cursor === undefined ? sql`` : sql`AND id > ${decodeCursor(q.cursor)}`}
  ${q.email === undefined ? sql`` : sql`AND email_key = ${q.email.toLowerCase()}`}
  ORDER BY id LIMIT ${q.limit + 1}`;

export async function listUsers(scope: Scope, q: UserListQuery): Promise<Page<UserRow>> {
  const rows = await scope.db.all<Record<string, unknown>>(usersPageQuery(scope.tenantId, q));
  return pageOf(
    rows.map((r) => rowOf(users, r)),
    q.limit,
    (u) => u.id,
  );
}

export async function getUser(scope: Scope, userId: string): Promise<UserRow> {
  const row = await scope.db.select().from(users).where(whereUser(scope, userId)).get();
  if (!row) throw notFound("user", userId);
  return row;
}

export async function patchUser(scope: Scope, userId: string, patch: UserProfile): Promise<UserRow> {
  const now = Date.now();
  const columns = columnsOf(patch);
  const changes = changesUser(scope, userId, columns);
  try {
    const update = scope.db
      .update(users)
      .set({
        ...columns,
        rulesOwed: profileOwed(scope.tenantId, owedToken(now)),
        version: sql`${users.version} + 1`,
        updatedAt: now,
      })
      .where(and(whereUser(scope, userId), scope.expect ? inArray(users.version, [...scope.expect]) : undefined, changes))
      .returning();
    const [, written, found] = await batch(scope.db, [
      userUpdatedEvent(scope, userId, patch, now, sql`${versionAllowed(scope, userId)} AND ${changes}`),
      update.getSQL(),
      userAsWritten(scope, userId),
    ]);
    const raw = written!.results[0] as Record<string, unknown> | undefined;
    if (!raw) return unwritten(scope, userId, found!);
    const row = rowOf(users, raw);
    await reevaluateUsers(scope, [{ id: userId, token: row.rulesOwed }]);
    return row;
  } catch (e) {
    throw uniquenessError(e) ?? e;
  }
}

/**
 * Delete the user and their memberships in one batch. It does not pass through the
 * groups' coordinators (a user may be in 10,000 groups): the batch lowers each
 * group's member_count by exactly the rows it deletes, so counts stay exact.
 */
export async function deleteUser(scope: Scope, userId: string): Promise<void> {
  const t = scope.tenantId;
  const now = Date.now();
  // With If-Match, every statement holds only while the user is at an allowed version; the user's row goes last.
  const allowed = versionAllowed(scope, userId);
  await journalClaim(scope.env, t, userId);
  const results = await batch(scope.db, [
    userAsWritten(scope, userId),
    // Then the event, while the memberships it names are still there.
    eventStatement(
      scope,
      "user.delete",
      { type: "user", id: userId },
      sql`json_object('user_ids', json_array(${userId}), 'group_ids',
            (SELECT json_group_array(group_id) FROM memberships WHERE tenant_id = ${t} AND user_id = ${userId}))`,
      now,
      sql`EXISTS (SELECT 1 FROM users WHERE tenant_id = ${t} AND id = ${userId}) AND ${allowed}`,
    ),
    forgetSubtreeCounts(t, sql`SELECT group_id FROM memberships WHERE tenant_id = ${t} AND user_id = ${userId} AND ${allowed}`),
    sql`UPDATE groups SET member_count = member_count - 1, version = version + 1, updated_at = ${now}
                     WHERE tenant_id = ${t} AND id IN (SELECT group_id FROM memberships WHERE tenant_id = ${t} AND user_id = ${userId}) AND ${allowed}`,
    sql`DELETE FROM memberships WHERE tenant_id = ${t} AND user_id = ${userId} AND ${allowed}`,
    sql`DELETE FROM user_roles WHERE tenant_id = ${t} AND user_id = ${userId} AND ${allowed}`,
    sql`DELETE FROM users WHERE tenant_id = ${t} AND id = ${userId} AND ${allowed}`,
  ]);
  if (changesOf(results, 6) === 0) unwritten(scope, userId, results[0]!);
  await forgetClaim(scope.env, t, userId);
}

/**
 * A change made from the user as read (traits merged into its custom data, a SCIM PATCH applied to its document):
 * `write` gets the row (undefined: no such user) and a scope that writes only over that version. When another write
 * lands between the read and the write (its 412 names another version, the user went, or a creation met the user
 * made), it runs again on the user as that write left it, rather than writing over it. Any other error is write's own.
 * After RACE_TRIES such races: 503, nothing written (never the 412 of a version the caller did not name).
 */
export async function rewriteUser<T>(scope: Scope, userId: string, write: (row: UserRow | undefined, at: Scope) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    const row = await scope.db.select().from(users).where(whereUser(scope, userId)).get();
    try {
      return await write(row, row ? { ...scope, expect: [row.version] } : scope);
    } catch (e) {
      const tag = e instanceof CoreError ? currentTagOf(e) : undefined;
      const raced = row
        ? (tag !== undefined && tag !== etagOf(row.version)) || (e instanceof CoreError && e.kind === "not_found")
        : isIdTaken(e);
      if (!raced) throw e;
      if (tries === RACE_TRIES) {
        throw new CoreError("unavailable", `user '${userId}' kept changing while this change was written (${tries} times): send it again`);
      }
    }
  }
}

export interface MemberRow extends UserRow {
  role: string;
  addedAt: number;
  sources: MembershipSource[];
  /** When the direct source stops holding (epoch ms); null: never. */
  expiresAt: number | null;
}

/**
 * A page of a group's members with their whole profiles, in user-id order, and the group's
 * version (the member set's tag), read first so the tag is never newer than the page.
 * search: a case-insensitive prefix of the user id, email or name.
 */
export async function listMembers(
  scope: Scope,
  groupId: string,
  q: { limit: number; cursor?: string; search?: string },
): Promise<Page<MemberRow> & { version: number }> {
  const { db, tenantId } = scope;
  const exists = await db
    .select({ version: groups.version })
    .from(groups)
    .where(and(eq(groups.tenantId, tenantId), eq(groups.id, groupId)))
    .get();
  if (!exists) throw notFound("group", groupId);
  const conditions = [eq(liveMemberships.tenantId, tenantId), eq(liveMemberships.groupId, groupId)];
  if (q.cursor !== undefined) conditions.push(gt(liveMemberships.userId, decodeCursor(q.cursor)));
  if (q.search) {
    // A prefix compared exactly (no LIKE: D1 refuses patterns over 50 bytes).
    const prefix = q.search.toLowerCase();
    const startsWith = (column: unknown) => sql`substr(${column}, 1, length(${prefix})) = ${prefix}`;
    conditions.push(
      sql`(${startsWith(sql`lower(${users.id})`)} OR ${startsWith(users.emailKey)} OR ${startsWith(sql`lower(${users.name})`)})`,
    );
  }
  const rows = await db
    .select(MEMBER_COLUMNS)
    .from(liveMemberships)
    .innerJoin(users, and(eq(users.tenantId, liveMemberships.tenantId), eq(users.id, liveMemberships.userId)))
    .where(and(...conditions))
    .orderBy(asc(liveMemberships.userId))
    .limit(q.limit + 1)
    .all();
  return { ...pageOf(rows.map(memberRowOf), q.limit, (r) => r.id), version: exists.version };
}

const MEMBER_COLUMNS = {
  user: users,
  role: liveMemberships.role,
  addedAt: liveMemberships.addedAt,
  sources: liveMemberships.sources,
  expiresAt: liveMemberships.expiresAt,
};
const memberRowOf = (r: { user: UserRow; role: string; addedAt: number; sources: number; expiresAt: number | null }): MemberRow => ({
  ...r.user,
  role: r.role,
  addedAt: r.addedAt,
  sources: sourceNames(r.sources),
  expiresAt: r.expiresAt,
});

/** One direct member with their profile, and the group's version, in one read: 404 for an unknown group or a user not in it. */
export async function getMember(scope: Scope, groupId: string, userId: string): Promise<{ member: MemberRow; groupVersion: number }> {
  const { db, tenantId } = scope;
  const row = await db
    .select({ groupVersion: groups.version, ...MEMBER_COLUMNS })
    .from(groups)
    .leftJoin(
      liveMemberships,
      and(eq(liveMemberships.tenantId, groups.tenantId), eq(liveMemberships.groupId, groups.id), eq(liveMemberships.userId, userId)),
    )
    .leftJoin(users, and(eq(users.tenantId, liveMemberships.tenantId), eq(users.id, liveMemberships.userId)))
    .where(and(eq(groups.tenantId, tenantId), eq(groups.id, groupId)))
    .get();
  if (!row) throw notFound("group", groupId);
  const { groupVersion, user, role, addedAt, sources, expiresAt } = row;
  if (!user || role === null || addedAt === null || sources === null) throw notMember(userId, groupId);
  return { member: memberRowOf({ user, role, addedAt, sources, expiresAt }), groupVersion };
}

export interface HeldGroup {
  group: typeof groups.$inferSelect;
  role: string;
  sources: MembershipSource[];
  expiresAt: number | null;
}

/** A page of the user's groups, in group-id order. */
export async function listUserGroups(scope: Scope, userId: string, q: { limit: number; cursor?: string }): Promise<Page<HeldGroup>> {
  const { db, tenantId } = scope;
  await getUser(scope, userId);
  const conditions = [eq(liveMemberships.tenantId, tenantId), eq(liveMemberships.userId, userId)];
  if (q.cursor !== undefined) conditions.push(gt(liveMemberships.groupId, decodeCursor(q.cursor)));
  const rows = await db
    .select({ group: groups, role: liveMemberships.role, sources: liveMemberships.sources, expiresAt: liveMemberships.expiresAt })
    .from(liveMemberships)
    .innerJoin(groups, and(eq(groups.tenantId, liveMemberships.tenantId), eq(groups.id, liveMemberships.groupId)))
    .where(and(...conditions))
    .orderBy(asc(liveMemberships.groupId))
    .limit(q.limit + 1)
    .all();
  return pageOf(
    rows.map((r) => ({ ...r, sources: sourceNames(r.sources) })),
    q.limit,
    (r) => r.group.id,
  );
}

/** The user an identity provider's hook speaks of: by id, else by login email. */
export async function findUserForHook(scope: Scope, id: string, email: string | undefined): Promise<string | null> {
  const byId = await scope.db.select({ id: users.id }).from(users).where(whereUser(scope, id)).get();
  if (byId) return byId.id;
  if (!email) return null;
  const byEmail = await scope.db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.tenantId, scope.tenantId), eq(users.emailKey, email.toLowerCase())))
    .get();
  return byEmail?.id ?? null;
}

/** The ids of the users with these emails or phone numbers; any unknown one is a 404 naming it. */
export async function userIdsByContact(scope: Scope, emails: string[], phones: string[]): Promise<string[]> {
  if (emails.length === 0 && phones.length === 0) return [];
  const rows = await scope.db.all<{ ref: string; id: string | null }>(sql`
    SELECT j.value AS ref, (SELECT u.id FROM users u WHERE u.tenant_id = ${scope.tenantId} AND u.email_key = lower(j.value)) AS id
      FROM json_each(${JSON.stringify(emails)}) j
    UNION ALL
    SELECT j.value, (SELECT u.id FROM users u WHERE u.tenant_id = ${scope.tenantId} AND u.phone_number = j.value)
      FROM json_each(${JSON.stringify(phones)}) j`);
  const unknown = rows.filter((r) => r.id === null).map((r) => r.ref);
  if (unknown.length > 0) {
    throw new CoreError(
      "not_found",
      `no user has ${unknown
        .slice(0, 10)
        .map((r) => `'${r}'`)
        .join(", ")}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ""}`,
      unknown.slice(0, 100).map((r) => ({ field: r.startsWith("+") ? "phone_numbers" : "emails", message: `no user has '${r}'` })),
    );
  }
  return rows.map((r) => r.id!);
}
