// Reads behind membership rules: a group's rule, and which groups' rules disagree with a
// user's memberships after a profile change (every rule of the tenant evaluated at once).
import { sql } from "drizzle-orm";
import { groupRules } from "../../db/schema";
import { SOURCE_BITS } from "../members/sources";
import { batch, type Db, inlinedText } from "../shared/context";
import { rowOf } from "../shared/rows";
import { compileRule } from "./rules";

export type RuleRow = typeof groupRules.$inferSelect;

export async function readRule(db: Db, tenantId: string, groupId: string): Promise<RuleRow | null> {
  const row = await db.get<Record<string, unknown>>(sql`SELECT * FROM group_rules WHERE tenant_id = ${tenantId} AND group_id = ${groupId}`);
  return row ? rowOf(groupRules, row) : null;
}

/**
 * Rules per statement: their arms are joined with || (D1 allows a function 32 arguments, so not
 * one call's arguments) in a balanced tree (an expression may be 100 levels deep, and a rule's
 * own condition takes up to about 80 of them); D1 takes statements of up to 100 KB.
 */
const ARMS_PER_STATEMENT = 100;
const TEXT_PER_STATEMENT = 80_000;

/**
 * Each rule as the text of a CASE that gives its group id when the rule selects `u`, by group
 * and expression: every profile change of a tenant evaluates all its rules. Keyed without the
 * tenant on purpose: the text holds only the group id and the expression, and every statement
 * that uses it is scoped to the tenant's users. The values are
 * written in, so a statement binds none of them whatever the number of rules.
 */
const arms = new Map<string, string>();

/** a || b || c ... as a balanced tree: log2(n) levels deep, not n. */
function concatenated(parts: string[]): string {
  if (parts.length === 1) return parts[0]!;
  const half = Math.ceil(parts.length / 2);
  return `(${concatenated(parts.slice(0, half))} || ${concatenated(parts.slice(half))})`;
}
function armOf(groupId: string, expression: string): string {
  const key = JSON.stringify([groupId, expression]);
  let text = arms.get(key);
  if (text === undefined) {
    if (arms.size >= 5_000) arms.clear();
    // Group ids hold no comma (ID_PATTERN, core/shared/ids.ts), so ',' separates them in the joined text.
    text = inlinedText(sql`CASE WHEN coalesce((${compileRule(expression)}), 0) != 0 THEN ${`${groupId},`} ELSE '' END`);
    arms.set(key, text);
  }
  return text;
}

/**
 * The groups whose rule now disagrees with these users' memberships: the rule selects a user
 * the rule source does not hold, or holds one it no longer selects. Paused rules are left
 * alone. Two round trips whatever the number of rules: the rules, then one batch that
 * evaluates all of them over the users' rows (a hundred to a statement) beside the
 * memberships the rule source holds.
 */
export async function groupsToReconcile(db: Db, tenantId: string, userIds: string[]): Promise<string[]> {
  const t = tenantId;
  const rules = await db.all<{ group_id: string; expression: string }>(
    sql`SELECT group_id, expression FROM group_rules WHERE tenant_id = ${t} AND paused = 0`,
  );
  if (rules.length === 0 || userIds.length === 0) return [];
  const ids = JSON.stringify(userIds);
  // One SELECT per statement (D1 allows few compound terms): a JSON array of the selecting groups per user.
  const packs: string[][] = [[]];
  let text = 0;
  for (const r of rules) {
    const arm = armOf(r.group_id, r.expression);
    const pack = packs.at(-1)!;
    if (pack.length > 0 && (pack.length >= ARMS_PER_STATEMENT || text + arm.length > TEXT_PER_STATEMENT)) {
      packs.push([]);
      text = 0;
    }
    packs.at(-1)!.push(arm);
    text += arm.length + 2;
  }
  const results = await batch(db, [
    sql`SELECT group_id, user_id FROM memberships
        WHERE tenant_id = ${t} AND user_id IN (SELECT value FROM json_each(${ids})) AND (sources & ${SOURCE_BITS.rule}) != 0`,
    ...packs.map(
      (p) => sql`SELECT u.id AS user_id, ${sql.raw(concatenated(p))} AS hits FROM users u
                 WHERE u.tenant_id = ${t} AND u.id IN (SELECT value FROM json_each(${ids}))`,
    ),
  ]);
  const key = (r: { group_id: string; user_id: string }) => JSON.stringify([r.group_id, r.user_id]);
  const held = new Set((results[0]!.results as { group_id: string; user_id: string }[]).map(key));
  const selected = new Set(
    results
      .slice(1)
      .flatMap((r) => r.results as { user_id: string; hits: string }[])
      .flatMap((r) =>
        r.hits
          .split(",")
          .filter(Boolean)
          .map((g) => key({ group_id: g, user_id: r.user_id })),
      ),
  );
  const ruled = new Set(rules.map((r) => r.group_id));
  const differ = [...held].filter((k) => !selected.has(k) && ruled.has(JSON.parse(k)[0])).concat([...selected].filter((k) => !held.has(k)));
  return [...new Set(differ.map((k) => JSON.parse(k)[0] as string))];
}
