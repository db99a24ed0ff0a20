// Analytics "group" calls applied to one group. Run by the group's coordinator, so the
// de-duplication by messageId, the trait merge and the membership are ordered with
// every other change to the group.
import { sql } from "drizzle-orm";
import { groupCreatedEvent, nameKeyOf, updateGroupRow } from "../groups/writes";
import { membersAmong } from "../hierarchy/subtree-counts";
import { addBreaksLimitsSql } from "../members/rules";
import { addMembers, addStatements, auditStatement, type MutationMeta, preAddColumns, preAddOf } from "../members/writes";
import { type Authority, checkMayChangeMembers, memberRuleLevelsSql, refusesMemberChangeSql } from "../roles/rules";
import { batch, type Db } from "../shared/context";
import { CoreError, isUniqueViolation } from "../shared/errors";
import { abortIf, isAborted } from "../shared/preconditions";
import { isShowable, LIMITS, UNSHOWABLE_GLOB, UNSHOWABLE_MESSAGE } from "../shared/validation";

export interface GroupCall {
  /** The event's position in the request, for warnings. */
  index: number;
  userId: string;
  traits: Record<string, unknown>;
  /** Event time (ms): traits merge per key by it, newest wins. */
  at: number;
  messageId?: string;
}

export interface IngestOutcome {
  applied: number;
  duplicates: number;
  warnings: { index: number; message: string }[];
  /** Users whose claims changed: those who joined, and everyone holding the group when it was renamed. */
  refresh: string[];
}

const json = (v: unknown) => JSON.stringify(v);

interface GroupFields {
  name: string;
  description: string;
  type: string;
}

/**
 * One read for the whole ingest: which messageIds were applied before, the group's fields
 * (if it exists), what adding the users checks, and the levels role rule 2 compares.
 */
async function readState(db: Db, m: MutationMeta, who: Authority, messageIds: string[], userIds: string[]) {
  const row = await db.get<{
    seen: string;
    name: string | null;
    description: string | null;
    type: string | null;
    member_count: number | null;
    settings: string | null;
    existing: string;
    groups_of: string;
    best: number | null;
    top: number | null;
  }>(sql`
    SELECT (SELECT json_group_array(t.message_id) FROM json_each(${json(messageIds)}) j
              CROSS JOIN tracking_messages t ON t.tenant_id = ${m.tenantId} AND t.message_id = j.value) AS seen,
           g.name, g.description, g.type,
           ${preAddColumns(m.tenantId, m.groupId, userIds)},
           ${memberRuleLevelsSql(m.tenantId, m.groupId, who)}
    FROM (SELECT 1) LEFT JOIN groups g ON g.tenant_id = ${m.tenantId} AND g.id = ${m.groupId}`);
  checkMayChangeMembers(m.groupId, who, row?.best ?? null, row?.top ?? null);
  const group: GroupFields | undefined =
    row?.name == null ? undefined : { name: row.name, description: row.description ?? "", type: row.type ?? "" };
  return {
    seen: new Set(JSON.parse(row?.seen ?? "[]") as string[]),
    group,
    // A group made by this ingest starts empty.
    pre: group ? preAddOf(m.groupId, row) : { ...preAddOf(m.groupId, { ...row!, member_count: 0 }), existing: new Set<string>() },
  };
}

/** Keep the first event of each messageId, and drop those applied before. */
function freshCalls(calls: GroupCall[], seen: Set<string>) {
  const inRequest = new Set<string>();
  return calls.filter((c) => {
    if (!c.messageId) return true;
    if (seen.has(c.messageId) || inRequest.has(c.messageId)) return false;
    inRequest.add(c.messageId);
    return true;
  });
}

/** The newest value of each trait key among these events (a later event in the batch wins a tie). */
function newestTraits(calls: GroupCall[]) {
  const newest = new Map<string, { value: unknown; at: number; index: number }>();
  for (const c of calls) {
    for (const [key, value] of Object.entries(c.traits)) {
      const had = newest.get(key);
      if (!had || c.at >= had.at) newest.set(key, { value, at: c.at, index: c.index });
    }
  }
  return newest;
}

/** Create the group the calls name; its fields as created. */
async function createGroup(db: Db, m: MutationMeta, name: string | undefined, warn: (m: string) => void): Promise<GroupFields> {
  const now = Date.now();
  const insert = (n: string) =>
    batch(db, [
      sql`INSERT INTO groups (tenant_id, id, name, name_key, created_by, created_at, updated_at)
          VALUES (${m.tenantId}, ${m.groupId}, ${n}, ${nameKeyOf(n)}, ${m.actor}, ${now}, ${now})`,
      groupCreatedEvent(m, m.groupId, now, { name: n, description: "", type: "Group" }),
    ]);
  try {
    await insert(name ?? m.groupId);
    return { name: name ?? m.groupId, description: "", type: "Group" };
  } catch (e) {
    if (!isUniqueViolation(e, "name_key") || name === undefined) throw e;
    warn(`another group is named '${name}': group '${m.groupId}' was created with its id as its name; the name trait is stored`);
    await insert(m.groupId);
    return { name: m.groupId, description: "", type: "Group" };
  }
}

/** The group name a name trait gives: trimmed, cut to the name limit; none when empty or unshowable. */
const groupNameOf = (v: unknown) => {
  const name = typeof v === "string" ? v.trim().slice(0, LIMITS.nameMax) : "";
  return name && isShowable(name) ? name : undefined;
};
const refusedName = (v: unknown) => typeof v === "string" && v.trim() !== "" && groupNameOf(v) === undefined;
const UNSHOWABLE_NAME_WARNING = `traits.name ${UNSHOWABLE_MESSAGE}: the group keeps its name; the trait is stored`;

/** The longest group type a group_type trait sets. */
const GROUP_TYPE_MAX = 64;

/** Traits that also set the group's own fields. */
const FIELD_TRAITS = ["name", "description", "group_type"];

const messageIdsOf = (calls: GroupCall[]) => calls.flatMap((c) => (c.messageId ? [c.messageId] : []));

/** The traits, the messageIds and the audit of an ingest, for its batch after the members. */
function ingestStatements(m: MutationMeta, calls: GroupCall[], traits: ReturnType<typeof newestTraits>, now: number) {
  const rows = [...traits].map(([key, t]) => [key, json(t.value), t.at]);
  return [
    // Per key, an older event never overwrites a newer value.
    sql`INSERT INTO group_traits (tenant_id, group_id, key, value, event_at)
        SELECT ${m.tenantId}, ${m.groupId}, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]')
        FROM json_each(${json(rows)}) j WHERE true
        ON CONFLICT (tenant_id, group_id, key) DO UPDATE SET value = excluded.value, event_at = excluded.event_at
        WHERE excluded.event_at >= group_traits.event_at`,
    sql`INSERT INTO tracking_messages (tenant_id, message_id, received_at)
        SELECT ${m.tenantId}, value, ${now} FROM json_each(${json(messageIdsOf(calls))}) WHERE true
        ON CONFLICT DO NOTHING`,
    auditStatement(m, "tracking.group", { events: calls.length }, now),
  ];
}

/** Characters JS's trim() also takes from the ends: SQL trims no more than applyFieldTraits does. */
const TRIMMED = " \t\n\u000b\f\r\u00a0\ufeff";

/**
 * Whether applyFieldTraits would have work to do: a stored field trait (a string) gives a
 * field other than the group's, taken as it takes it (trimmed; empty or, for a name,
 * unshowable: nothing). Where SQL cannot tell as JS does (a value past its limit, a space
 * only JS trims), it says yes, and the careful path decides, so a padded or refused name
 * does not send every later call of its group the careful way.
 */
const fieldTraitsDifferSql = (m: MutationMeta) => sql`EXISTS (
  SELECT 1 FROM (
    SELECT t.key, trim(json_extract(t.value, '$'), ${TRIMMED}) AS v,
      CASE t.key WHEN 'name' THEN g.name WHEN 'description' THEN g.description ELSE g.type END AS field
    FROM group_traits t CROSS JOIN groups g ON g.tenant_id = t.tenant_id AND g.id = t.group_id
    WHERE t.tenant_id = ${m.tenantId} AND t.group_id = ${m.groupId} AND t.key IN ('name', 'description', 'group_type')
      AND json_type(t.value) = 'text')
  WHERE length(v) > CASE key WHEN 'name' THEN ${LIMITS.nameMax} WHEN 'description' THEN ${LIMITS.descriptionMax} ELSE ${GROUP_TYPE_MAX} END
    OR (v <> '' AND NOT (key = 'name' AND v GLOB ${UNSHOWABLE_GLOB}) AND v IS NOT field))`;

/**
 * The usual ingest, in one round trip: the group exists, no event was applied before, the
 * role rules and limits allow the adds, and the field traits leave the group's fields as they
 * are. The batch checks all of it itself (core/shared/preconditions.ts); undefined, with
 * nothing changed, when any of it did not hold.
 */
async function ingestIntoKnownGroup(db: Db, m: MutationMeta, who: Authority, all: GroupCall[]): Promise<IngestOutcome | undefined> {
  const calls = freshCalls(all, new Set());
  const users = json([...new Set(calls.map((c) => c.userId))]);
  const traits = newestTraits(calls);
  const joining = membersAmong(m.tenantId, m.groupId, users, false);
  const now = Date.now();
  // Who joins is known only once the batch has run: every user is queued, the others dropped after.
  await m.beforeCommit?.(JSON.parse(users) as string[]);
  try {
    const results = await batch(db, [
      abortIf(sql`NOT EXISTS (SELECT 1 FROM groups WHERE tenant_id = ${m.tenantId} AND id = ${m.groupId})
        OR EXISTS (SELECT 1 FROM json_each(${json(messageIdsOf(calls))}) j
                   CROSS JOIN tracking_messages t ON t.tenant_id = ${m.tenantId} AND t.message_id = j.value)
        OR ${refusesMemberChangeSql(m.tenantId, m.groupId, who)}
        OR ${addBreaksLimitsSql(m.tenantId, m.groupId, joining)}`),
      sql`SELECT json_group_array(user_id) AS ids FROM (${joining})`,
      ...addStatements(m, users, "member", now),
      ...ingestStatements(m, calls, traits, now),
      ...(FIELD_TRAITS.some((k) => traits.has(k)) ? [abortIf(fieldTraitsDifferSql(m))] : []),
    ]);
    const joined = JSON.parse((results[1]!.results[0] as { ids: string }).ids) as string[];
    await m.changedOnly?.(joined);
    return { applied: calls.length, duplicates: all.length - calls.length, warnings: [], refresh: joined };
  } catch (e) {
    if (!isAborted(e)) throw e;
    await m.changedOnly?.([]);
    return undefined;
  }
}

/** Rule 2 of the role rules is checked in the batch or, on the careful path, on the levels its one read returns. */
export async function ingestGroupCalls(db: Db, m: MutationMeta, who: Authority, all: GroupCall[]): Promise<IngestOutcome> {
  // A name trait the group will not take is explained by the careful path's warning.
  const fast = all.some((c) => refusedName(c.traits.name)) ? undefined : await ingestIntoKnownGroup(db, m, who, all);
  return fast ?? (await ingestCarefully(db, m, who, all));
}

/** Read first, then write: creates a missing group, skips events applied before, explains a refusal, applies the field traits. */
async function ingestCarefully(db: Db, m: MutationMeta, who: Authority, all: GroupCall[]): Promise<IngestOutcome> {
  const userIds = [...new Set(all.map((c) => c.userId))];
  const state = await readState(db, m, who, messageIdsOf(all), userIds);
  const calls = freshCalls(all, state.seen);
  const warnings: IngestOutcome["warnings"] = [];
  if (calls.length === 0) return { applied: 0, duplicates: all.length, warnings, refresh: [] };
  const traits = newestTraits(calls);
  const nameTrait = traits.get("name");
  const proposedName = groupNameOf(nameTrait?.value);
  if (nameTrait && refusedName(nameTrait.value)) warnings.push({ index: nameTrait.index, message: UNSHOWABLE_NAME_WARNING });
  const current = state.group ?? (await createGroup(db, m, proposedName, (message) => warnings.push({ index: nameTrait!.index, message })));

  const fresh = [...new Set(calls.map((c) => c.userId))];
  const setsFields = FIELD_TRAITS.some((k) => traits.has(k));
  // The read covered every user of the request (a retry's duplicates only shrink the list);
  // the members, traits, messageIds and audit are one batch: applied whole or not at all.
  const { added_ids, also: results } = await addMembers(db, m, fresh, "member", {}, state.pre, [
    ...ingestStatements(m, calls, traits, Date.now()),
    sql`SELECT key, value FROM group_traits WHERE tenant_id = ${m.tenantId} AND group_id = ${m.groupId} AND key IN ('name', 'description', 'group_type')`,
  ]);
  const stored = (results[3]?.results ?? []) as { key: string; value: string }[];
  const holders = setsFields ? await applyFieldTraits(db, m, current, stored, nameTrait?.index ?? 0, warnings) : undefined;
  const refresh = holders ?? added_ids;
  return { applied: calls.length, duplicates: all.length - calls.length, warnings, refresh };
}

/** name, description and group_type also set the group's own fields, from the winning trait values. After a rename: everyone who holds the group. */
async function applyFieldTraits(
  db: Db,
  m: MutationMeta,
  current: GroupFields,
  stored: { key: string; value: string }[],
  nameIndex: number,
  warnings: IngestOutcome["warnings"],
): Promise<string[] | undefined> {
  const value = (key: string) => {
    const row = stored.find((r) => r.key === key);
    const v: unknown = row ? JSON.parse(row.value) : undefined;
    return typeof v === "string" && v.trim() ? v.trim() : undefined;
  };
  const name = groupNameOf(value("name"));
  const description = value("description")?.slice(0, LIMITS.descriptionMax);
  const type = value("group_type")?.slice(0, GROUP_TYPE_MAX);
  const patch = {
    ...(description !== undefined && description !== current.description ? { description } : {}),
    ...(type !== undefined && type !== current.type ? { type } : {}),
  };
  if (Object.keys(patch).length > 0) await updateGroupRow(db, m, m.groupId, patch);
  if (name !== undefined && name !== current.name) {
    try {
      // A rename reaches everyone who holds the group.
      return (await updateGroupRow(db, m, m.groupId, { name }, m)).holders;
    } catch (e) {
      if (!(e instanceof CoreError && e.kind === "conflict")) throw e;
      // A group created under its id for the same clash has its warning already.
      if (!warnings.some((w) => w.index === nameIndex)) {
        warnings.push({
          index: nameIndex,
          message: `another group is named '${name}': group '${m.groupId}' keeps the name '${current.name}'; the name trait is stored`,
        });
      }
    }
  }
  return undefined;
}
