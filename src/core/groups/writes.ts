// Changes to a group's own fields. Runs inside the group's coordinator so a rename
// and the claims refresh it needs are ordered with the group's other mutations.
import { and, eq, sql } from "drizzle-orm";
import { groups } from "../../db/schema";
import { type EventOrigin, eventStatement } from "../events/writes";
import { type ClaimRefresh, subtreeBeforeWrite, subtreeJoiners, subtreeUsers } from "../hierarchy/subtree-users";
import { batch, type Db } from "../shared/context";
import { CoreError, isUniqueViolation, notFound } from "../shared/errors";
import { rowOf } from "../shared/rows";
import { checkVersion, staleVersion } from "../shared/versions";

export type GroupRow = typeof groups.$inferSelect;

export interface GroupPatch {
  name?: string;
  description?: string;
  type?: string;
  customData?: Record<string, unknown>;
  externalId?: string | null;
  color?: string | null;
  welcomeMessage?: string | null;
}

export const nameKeyOf = (name: string) => name.normalize("NFC").toLowerCase();

export const nameClash = (name: string) =>
  new CoreError("conflict", `a group named '${name}' already exists`, [{ field: "name", message: "must be unique (case-insensitive)" }]);

/** The fields a group's events show before and after a change, named as the native API names them. */
const SHOWN = {
  name: "name",
  description: "description",
  type: "type",
  customData: "custom_data",
  externalId: "external_id",
  color: "color",
  welcomeMessage: "welcome_message",
} as const;
const shown = (fields: Partial<Record<keyof typeof SHOWN, unknown>>) =>
  Object.fromEntries(
    Object.entries(SHOWN)
      .filter(([k]) => fields[k as keyof typeof SHOWN] !== undefined)
      .map(([k, wire]) => {
        const v = fields[k as keyof typeof SHOWN];
        // Stored custom data is JSON text; a patch's is an object.
        return [wire, k === "customData" && typeof v === "string" ? (JSON.parse(v) as unknown) : v];
      }),
  );

/** The event of a group's creation, for the batch that inserts it. */
export const groupCreatedEvent = (o: EventOrigin, groupId: string, at: number, fields: GroupPatch) =>
  eventStatement(o, "group.create", { type: "group", id: groupId }, { after: shown(fields) }, at);

/** Whether a patch's value is what the group holds already (custom data is stored as JSON text). */
const same = (k: keyof GroupPatch, stored: unknown, given: unknown) =>
  k === "customData" ? stored === JSON.stringify(given) : stored === given;

/**
 * beforeRename: called before a write that changes the name (its holders' claims change).
 * expect: the versions If-Match allows; the write applies only to the version it checked.
 */
export async function updateGroupRow(
  db: Db,
  origin: EventOrigin,
  groupId: string,
  patch: GroupPatch,
  /** A rename changes the claims of everyone who holds the group: how they are handed on (none: not at all). */
  renameRefresh?: ClaimRefresh,
  expect?: readonly number[],
) {
  const tenantId = origin.tenantId;
  const where = and(eq(groups.tenantId, tenantId), eq(groups.id, groupId));
  const before = await db.select().from(groups).where(where).get();
  if (!before) throw notFound("group", groupId);
  checkVersion(expect, before.version, `group '${groupId}'`);
  const patched = (Object.keys(patch) as (keyof GroupPatch)[]).filter((k) => patch[k] !== undefined && !same(k, before[k], patch[k]));
  // A write that changes nothing records nothing: no new version (an ETag held stays good), no event.
  if (patched.length === 0) return { row: before, renamed: false };
  const renamed = patch.name !== undefined && patch.name !== before.name;
  const holders = renamed && renameRefresh ? await subtreeBeforeWrite(db, tenantId, [groupId], renameRefresh) : undefined;
  const set: Partial<GroupRow> = {};
  if (patch.name !== undefined) Object.assign(set, { name: patch.name, nameKey: nameKeyOf(patch.name) });
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.type !== undefined) set.type = patch.type;
  if (patch.customData !== undefined) set.customData = JSON.stringify(patch.customData);
  if (patch.externalId !== undefined) set.externalId = patch.externalId;
  if (patch.color !== undefined) set.color = patch.color;
  if (patch.welcomeMessage !== undefined) set.welcomeMessage = patch.welcomeMessage;
  const now = Date.now();
  const change = {
    before: shown(Object.fromEntries(patched.map((k) => [k, before[k]]))),
    after: shown(Object.fromEntries(patched.map((k) => [k, patch[k]]))),
  };
  try {
    const update = db
      .update(groups)
      .set({ ...set, version: sql`${groups.version} + 1`, updatedAt: now })
      // A user's deletion changes member counts outside the coordinator: the write must meet the version checked.
      .where(expect ? and(where, eq(groups.version, before.version)) : where)
      .returning();
    // Recorded only if the update applied (changes() is the statement before's, in the same batch).
    const event = eventStatement(origin, "group.update", { type: "group", id: groupId }, change, now, sql`changes() = 1`);
    const [updated, , found] = await batch(db, [update.getSQL(), event, ...(holders ? [subtreeUsers(tenantId, [groupId])] : [])]);
    const raw = updated!.results[0] as Record<string, unknown> | undefined;
    if (!raw) throw await staleGroup(db, tenantId, groupId);
    const row = rowOf(groups, raw);
    if (!holders || !renameRefresh) return { row, renamed };
    return { row, renamed, holders: await subtreeJoiners(found!, holders, renameRefresh) };
  } catch (e) {
    if (isUniqueViolation(e, "name_key")) throw nameClash(patch.name ?? "");
    throw e;
  }
}

/** The error for a conditional write that found the group changed (or gone) since its check. */
async function staleGroup(db: Db, tenantId: string, groupId: string) {
  const now = await db
    .select({ version: groups.version })
    .from(groups)
    .where(and(eq(groups.tenantId, tenantId), eq(groups.id, groupId)))
    .get();
  return now ? staleVersion(`group '${groupId}'`, now.version) : notFound("group", groupId);
}
