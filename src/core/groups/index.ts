import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import { pendingClaimWrites } from "../../coordinator/claims-writers";
import { callerOf, coordinatorOf, unwrap } from "../../coordinator/client";
import { groups } from "../../db/schema";
import { batch, type Scope } from "../shared/context";
import { CoreError, isUniqueViolation, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { decodeCursor, type Page, pageOf } from "../shared/paging";
import { rowOf } from "../shared/rows";
import { type GroupPatch, type GroupRow, groupCreatedEvent, nameClash, nameKeyOf } from "./writes";

export type { GroupView } from "./reads";
// What surfaces use of the domain code, through this entry point.
export { allGroupViews, groupView, groupViewPage, groupViewsByIds } from "./reads";
export type { GroupPatch, GroupRow };

export interface NewGroup extends GroupPatch {
  id?: string;
  name: string;
}

export async function createGroup(scope: Scope, input: NewGroup): Promise<GroupRow> {
  const now = Date.now();
  const id = input.id ?? newId();
  try {
    const insert = scope.db
      .insert(groups)
      .values({
        tenantId: scope.tenantId,
        id,
        name: input.name,
        nameKey: nameKeyOf(input.name),
        description: input.description ?? "",
        type: input.type ?? "Group",
        customData: JSON.stringify(input.customData ?? {}),
        externalId: input.externalId ?? null,
        color: input.color ?? null,
        welcomeMessage: input.welcomeMessage ?? null,
        createdBy: scope.actor,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    const [inserted] = await batch(scope.db, [
      insert.getSQL(),
      groupCreatedEvent(scope, id, now, { ...input, type: input.type ?? "Group" }),
    ]);
    return rowOf(groups, inserted!.results[0] as Record<string, unknown>);
  } catch (e) {
    if (isUniqueViolation(e, "name_key")) throw nameClash(input.name);
    if (isUniqueViolation(e)) throw new CoreError("conflict", `a group with id '${input.id}' already exists`);
    throw e;
  }
}

export async function getGroup(scope: Scope, groupId: string): Promise<GroupRow> {
  const row = await scope.db
    .select()
    .from(groups)
    .where(and(eq(groups.tenantId, scope.tenantId), eq(groups.id, groupId)))
    .get();
  if (!row) throw notFound("group", groupId);
  return row;
}

export interface GroupListQuery {
  limit: number;
  cursor?: string;
  /** Name prefix, case-insensitive. */
  search?: string;
}

/** Groups in name order, by keyset on the unique lower-cased name: stable while paging. */
export async function listGroups(scope: Scope, q: GroupListQuery): Promise<Page<GroupRow>> {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const conditions = [eq(groups.tenantId, scope.tenantId)];
  if (after !== undefined) conditions.push(gt(groups.nameKey, after));
  if (q.search) {
    const prefix = nameKeyOf(q.search);
    conditions.push(sql`${groups.nameKey} >= ${prefix}`, lt(groups.nameKey, `${prefix}\u{10FFFF}`));
  }
  const rows = await scope.db
    .select()
    .from(groups)
    .where(and(...conditions))
    .orderBy(asc(groups.nameKey))
    .limit(q.limit + 1)
    .all();
  return pageOf(rows, q.limit, (r) => r.nameKey);
}

export async function updateGroup(scope: Scope, groupId: string, patch: GroupPatch): Promise<GroupRow> {
  const stub = coordinatorOf(scope, groupId);
  return unwrap(stub.updateGroup(callerOf(scope, groupId), patch)) as Promise<GroupRow>;
}

export async function deleteGroup(scope: Scope, groupId: string): Promise<void> {
  await unwrap(coordinatorOf(scope, groupId).deleteGroup(callerOf(scope, groupId)));
}

/** The group's traits from analytics group calls, each with the time of the event that set it. */
export async function groupTraits(scope: Scope, groupId: string): Promise<Record<string, { value: unknown; event_at: number }>> {
  await getGroup(scope, groupId);
  const rows = await scope.db.all<{ key: string; value: string; event_at: number }>(
    sql`SELECT key, value, event_at FROM group_traits WHERE tenant_id = ${scope.tenantId} AND group_id = ${groupId} ORDER BY key`,
  );
  return Object.fromEntries(rows.map((r) => [r.key, { value: JSON.parse(r.value) as unknown, event_at: r.event_at }]));
}

export interface AuditEntry {
  id: string;
  at: number;
  actor: string | null;
  action: string;
  seq: number | null;
  detail: unknown;
}

/** The group's change log in the order its coordinator applied the changes, paged by sequence number. */
export async function groupAudit(scope: Scope, groupId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
  const after = q.cursor === undefined ? -1 : Number(decodeCursor(q.cursor));
  const rows = await scope.db.all<AuditEntry & { detail: string }>(
    sql`SELECT id, at, actor, action, seq, detail FROM audit_log
        WHERE tenant_id = ${scope.tenantId} AND target_type = 'group' AND target_id = ${groupId} AND seq > ${after}
        ORDER BY seq LIMIT ${q.limit + 1}`,
  );
  if (rows.length === 0) await getGroup(scope, groupId);
  return pageOf(
    rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown })),
    q.limit,
    (r) => String(r.seq),
  );
}

/** How many users still wait for the claims refresh the group's coordinator queued, or for any claim write in the tenant (0: every claim is current). */
export async function pendingClaimRefreshes(scope: Scope, groupId: string): Promise<number> {
  await getGroup(scope, groupId);
  // The coordinator first: an entry it no longer holds has already reached a writer.
  const queued = await coordinatorOf(scope, groupId).pendingRefreshes();
  return queued + (await pendingClaimWrites(scope.env, scope.tenantId));
}
