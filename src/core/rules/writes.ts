// The statements behind a group's membership rule, run by the group's coordinator one at a
// time: saving and dropping the rule, and finding which users the rule must add or remove
// (set-based: the rule compiled to one SQL condition, the users read a range at a time).
import { type SQL, sql } from "drizzle-orm";
import { groupRules } from "../../db/schema";
import { SOURCE_BITS } from "../members/sources";
import type { MutationMeta } from "../members/writes";
import { auditStatement } from "../members/writes";
import { batch, type Db } from "../shared/context";
import { CoreError, notFound } from "../shared/errors";
import { abortIf, isAborted } from "../shared/preconditions";
import { rowOf } from "../shared/rows";
import { markGroupOwed, owedToken } from "./owed";
import type { RuleRow } from "./reads";
import { compileRule, RULE_LIMITS } from "./rules";

/**
 * Save the group's rule (its expression checked first): 404 for an unknown group, 409 when
 * an identity provider manages the group's members through SCIM, 422 past the tenant's rule limit.
 */
export async function saveRule(
  db: Db,
  m: MutationMeta,
  input: { expression: string; paused: boolean },
): Promise<{ rule: RuleRow; created: boolean; owed: number | null }> {
  compileRule(input.expression);
  const t = m.tenantId;
  const g = m.groupId;
  const state = await db.get<{ found: number | null; external_id: string | null; scim_held: number; existing: number; rules: number }>(sql`
    SELECT (SELECT 1 FROM groups WHERE tenant_id = ${t} AND id = ${g}) AS found,
           (SELECT external_id FROM groups WHERE tenant_id = ${t} AND id = ${g}) AS external_id,
           EXISTS (SELECT 1 FROM memberships WHERE tenant_id = ${t} AND group_id = ${g} AND (sources & ${SOURCE_BITS.scim}) != 0) AS scim_held,
           EXISTS (SELECT 1 FROM group_rules WHERE tenant_id = ${t} AND group_id = ${g}) AS existing,
           ${rulesOfTenantSql(t)} AS rules`);
  if (!state?.found) throw notFound("group", g);
  if (state.external_id !== null || state.scim_held) {
    throw new CoreError(
      "conflict",
      `group '${g}' is managed by an identity provider through SCIM (${state.external_id !== null ? "it has an externalId" : "SCIM pushed its members"}); a rule would fight the provider's pushes`,
    );
  }
  if (!state.existing && state.rules >= RULE_LIMITS.rulesPerTenant) throw tooManyRules();
  const now = Date.now();
  // The reconcile that follows is owed from this commit on (none for a paused rule: it changes no member).
  const owed = input.paused ? null : owedToken(now);
  const results = await batch(db, [
    ...(owed === null ? [] : [markGroupOwed(t, g, owed)]),
    sql`INSERT INTO group_rules (tenant_id, group_id, expression, paused, created_by, created_at, updated_at)
        VALUES (${t}, ${g}, ${input.expression}, ${input.paused ? 1 : 0}, ${m.actor}, ${now}, ${now})
        ON CONFLICT (tenant_id, group_id) DO UPDATE SET expression = excluded.expression, paused = excluded.paused, updated_at = excluded.updated_at`,
    // Counted again as the insert leaves them: each group's coordinator counted alone, and others' rules land side by side.
    abortIf(sql`${rulesOfTenantSql(t)} > ${RULE_LIMITS.rulesPerTenant}`),
    auditStatement(m, "rule.set", { expression: input.expression, paused: input.paused }, now),
    sql`SELECT * FROM group_rules WHERE tenant_id = ${t} AND group_id = ${g}`,
  ]).catch((e) => {
    throw isAborted(e) ? tooManyRules() : e;
  });
  return { rule: rowOf(groupRules, results.at(-1)!.results[0] as Record<string, unknown>), created: !state.existing, owed };
}

/** The tenant's membership rules, counted: what RULE_LIMITS.rulesPerTenant bounds. */
const rulesOfTenantSql = (tenantId: string) => sql`(SELECT count(*) FROM group_rules WHERE tenant_id = ${tenantId})`;

const tooManyRules = () =>
  new CoreError("limit_exceeded", `this tenant has ${RULE_LIMITS.rulesPerTenant} membership rules, the most allowed`);

/** Drop the group's rule (the coordinator has checked it has one); the reconcile that follows (owed: its mark) takes its members out. */
export async function dropRule(db: Db, m: MutationMeta): Promise<{ owed: number }> {
  const now = Date.now();
  const owed = owedToken(now);
  await batch(db, [
    sql`DELETE FROM group_rules WHERE tenant_id = ${m.tenantId} AND group_id = ${m.groupId}`,
    markGroupOwed(m.tenantId, m.groupId, owed),
    auditStatement(m, "rule.delete", {}, now, "group"),
  ]);
  return { owed };
}

/** Which users a rule reconcile looks at: a range of the tenant's users by id, or these users. */
export type RuleRange = { after: string } | { only: string[] };

export interface RuleDiff {
  join: string[];
  leave: string[];
  /** Where the next range starts; null when this was the last. */
  next: string | null;
}

/**
 * Among the users of the range, who the rule (cond, over `u`; none: no rule) selects but the
 * rule source does not hold yet, and who it holds but no longer selects. One read.
 */
export async function ruleDiff(db: Db, tenantId: string, groupId: string, cond: SQL | null, range: RuleRange): Promise<RuleDiff> {
  const t = tenantId;
  const which =
    "only" in range
      ? sql`u.id IN (SELECT value FROM json_each(${JSON.stringify(range.only)}))`
      : sql`u.id > ${range.after} ORDER BY u.id LIMIT ${RULE_LIMITS.reconcileChunk}`;
  const rows = await db.all<{ id: string; hit: number; sources: number }>(sql`
    WITH r AS (SELECT u.id, ${cond ? sql`coalesce((${cond}), 0) != 0` : sql`0`} AS hit FROM users u WHERE u.tenant_id = ${t} AND ${which})
    SELECT r.id, r.hit, coalesce(m.sources, 0) AS sources FROM r
      LEFT JOIN memberships m ON m.tenant_id = ${t} AND m.group_id = ${groupId} AND m.user_id = r.id`);
  const held = (r: { sources: number }) => (r.sources & SOURCE_BITS.rule) !== 0;
  const last = rows.reduce<string | null>((max, r) => (max === null || r.id > max ? r.id : max), null);
  return {
    join: rows.filter((r) => r.hit && !held(r)).map((r) => r.id),
    leave: rows.filter((r) => !r.hit && held(r)).map((r) => r.id),
    next: "only" in range || rows.length < RULE_LIMITS.reconcileChunk ? null : last,
  };
}
