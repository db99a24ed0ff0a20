// Links between groups (parent → child, a DAG). Run by the tenant's hierarchy
// coordinator, one change at a time, so two links that together would close a cycle
// cannot both pass the check.
import { sql } from "drizzle-orm";
import { loadSettings } from "../config/reads";
import { auditStatement, type MutationMeta } from "../members/writes";
import { batch, type Db, returnedOf } from "../shared/context";
import { CoreError } from "../shared/errors";
import { forgetSubtreeCounts, idsOf } from "./subtree-counts";
import { subtreeBeforeWrite, subtreeJoiners, subtreeUsers } from "./subtree-users";

const json = (v: unknown) => JSON.stringify(v);

async function namesOf(db: Db, tenantId: string, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.all<{ id: string; name: string }>(
    sql`SELECT g.id, g.name FROM json_each(${json(ids)}) j CROSS JOIN groups g ON g.tenant_id = ${tenantId} AND g.id = j.value`,
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}

async function assertGroupsExist(db: Db, tenantId: string, ids: string[]) {
  const names = await namesOf(db, tenantId, ids);
  const missing = ids.filter((id) => !names.has(id));
  if (missing.length > 0) {
    throw new CoreError(
      "not_found",
      `group${missing.length > 1 ? "s" : ""} ${missing
        .slice(0, 10)
        .map((id) => `'${id}'`)
        .join(", ")} not found`,
      missing.slice(0, 100).map((id) => ({ field: "group_ids", message: `unknown group '${id}'` })),
    );
  }
  return names;
}

/** If linking parent → children closes a cycle, the cycle as a list of group ids (first = last = parent). */
async function cycleThrough(db: Db, tenantId: string, parentId: string, childIds: string[]): Promise<string[] | null> {
  const rows = await db.all<{ node: string; prev: string }>(sql`
    WITH RECURSIVE reach(node, prev) AS (
      SELECT j.value, ${parentId} FROM json_each(${json(childIds)}) j
      UNION
      SELECT e.child_id, r.node FROM reach r
        CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.parent_id = r.node
        WHERE r.node != ${parentId}
    )
    SELECT node, prev FROM reach WHERE EXISTS (SELECT 1 FROM reach WHERE node = ${parentId})`);
  if (rows.length === 0) return null;
  const prevOf = new Map<string, string>();
  for (const r of rows) if (!prevOf.has(r.node)) prevOf.set(r.node, r.prev);
  // Walk the predecessor pointers back from the parent to the parent.
  const backwards = [parentId];
  let at = prevOf.get(parentId)!;
  while (backwards.length <= rows.length) {
    backwards.push(at);
    if (at === parentId) break;
    at = prevOf.get(at)!;
  }
  return backwards.reverse();
}

/** Levels in the longest chain through the new links: ancestors above the parent, the parent, the children and their descendants. */
async function levelsThrough(db: Db, tenantId: string, parentId: string, childIds: string[], cap: number): Promise<number> {
  const row = await db.get<{ up: number; down: number }>(sql`
    WITH RECURSIVE
      up(node, d) AS (
        SELECT ${parentId}, 0
        UNION
        SELECT e.parent_id, u.d + 1 FROM up u CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = u.node WHERE u.d < ${cap}
      ),
      down(node, d) AS (
        SELECT j.value, 0 FROM json_each(${json(childIds)}) j
        UNION
        SELECT e.child_id, w.d + 1 FROM down w CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.parent_id = w.node WHERE w.d < ${cap}
      )
    SELECT (SELECT max(d) FROM up) AS up, (SELECT max(d) FROM down) AS down`);
  return (row?.up ?? 0) + (row?.down ?? 0) + 2;
}

export interface LinkResult {
  linked: number;
  already_linked: number;
  affected_users: string[];
}

export async function linkChildren(db: Db, m: MutationMeta, childIds: string[]): Promise<LinkResult> {
  const parentId = m.groupId;
  const names = await assertGroupsExist(db, m.tenantId, [parentId, ...childIds]);
  const cycle = await cycleThrough(db, m.tenantId, parentId, childIds);
  if (cycle) {
    const child = cycle[1]!;
    const pathNames = await namesOf(db, m.tenantId, cycle);
    const path = cycle.map((id) => pathNames.get(id) ?? id);
    throw new CoreError("conflict", `linking '${names.get(parentId)}' → '${names.get(child)}' would make a cycle: ${path.join(" → ")}`, [
      { field: "group_ids", message: "would make a cycle", path: cycle },
    ]);
  }
  const settings = await loadSettings(db, m.tenantId);
  const levels = await levelsThrough(db, m.tenantId, parentId, childIds, settings.maxHierarchyDepth + 1);
  if (levels > settings.maxHierarchyDepth) {
    throw new CoreError(
      "limit_exceeded",
      `the hierarchy would be ${levels} levels deep; this tenant allows at most ${settings.maxHierarchyDepth} (config maxHierarchyDepth)`,
    );
  }
  // Everyone under the children gains the parent's groups (the link does not change who that is).
  const affected = await subtreeBeforeWrite(db, m.tenantId, childIds, m);
  const now = Date.now();
  const ids = json(childIds);
  // The EXISTS guards keep an edge from outliving a group deleted meanwhile by its own coordinator.
  const results = await batch(db, [
    sql`INSERT INTO group_edges (tenant_id, parent_id, child_id, created_at)
        SELECT ${m.tenantId}, ${parentId}, j.value, ${now} FROM json_each(${ids}) j
        WHERE EXISTS (SELECT 1 FROM groups g WHERE g.tenant_id = ${m.tenantId} AND g.id = ${parentId})
          AND EXISTS (SELECT 1 FROM groups g WHERE g.tenant_id = ${m.tenantId} AND g.id = j.value)
        ON CONFLICT DO NOTHING RETURNING 1`,
    auditStatement(m, "hierarchy.link", { child_ids: childIds }, now, "hierarchy"),
    forgetSubtreeCounts(m.tenantId, idsOf([parentId])),
    subtreeUsers(m.tenantId, childIds),
  ]);
  const linked = returnedOf(results, 0);
  const holders = await subtreeJoiners(results[3]!, affected, m);
  return { linked, already_linked: childIds.length - linked, affected_users: linked > 0 ? holders : [] };
}

export interface UnlinkResult {
  unlinked: number;
  not_linked: number;
  affected_users: string[];
}

export async function unlinkChildren(db: Db, m: MutationMeta, childIds: string[]): Promise<UnlinkResult> {
  await assertGroupsExist(db, m.tenantId, [m.groupId]);
  const affected = await subtreeBeforeWrite(db, m.tenantId, childIds, m);
  const now = Date.now();
  const results = await batch(db, [
    sql`DELETE FROM group_edges WHERE tenant_id = ${m.tenantId} AND parent_id = ${m.groupId}
        AND child_id IN (SELECT value FROM json_each(${json(childIds)})) RETURNING 1`,
    auditStatement(m, "hierarchy.unlink", { child_ids: childIds }, now, "hierarchy"),
    forgetSubtreeCounts(m.tenantId, idsOf([m.groupId])),
    subtreeUsers(m.tenantId, childIds),
  ]);
  const unlinked = returnedOf(results, 0);
  const holders = await subtreeJoiners(results[3]!, affected, m);
  return { unlinked, not_linked: childIds.length - unlinked, affected_users: unlinked > 0 ? holders : [] };
}
