// Membership rules. So far: previewing an expression over the tenant's users (who would match),
// without changing anything; setting a rule on a group comes with membership provenance.
import { sql } from "drizzle-orm";
import { users } from "../../db/schema";
import type { Scope } from "../shared/context";
import { rowOf } from "../shared/rows";
import { compileRule } from "./rules";

export { compileRule, RULE_ATTRIBUTE_NAMES, RULE_LIMITS } from "./rules";

export interface RulePreview {
  matched: number;
  /** The first matching users by id. */
  users: (typeof users.$inferSelect)[];
}

/** One statement, the expression bound once: every match counted (a window over the whole result), the first `limit` returned. */
export async function previewRule(scope: Scope, expression: string, limit: number): Promise<RulePreview> {
  const where = compileRule(expression);
  const rows = await scope.db.all<Record<string, unknown> & { matched: number }>(sql`
    SELECT u.*, count(*) OVER () AS matched FROM users u WHERE u.tenant_id = ${scope.tenantId} AND ${where} ORDER BY u.id LIMIT ${limit}`);
  return { matched: rows[0]?.matched ?? 0, users: rows.map(({ matched: _, ...r }) => rowOf(users, r)) };
}
