// Membership rules' expressions: a SCIM filter (RFC 7644 §3.4.2.2, compiled by core/scim's
// filter compiler) over a user's profile, with the attributes a rule may read.
import { type SQL, sql } from "drizzle-orm";
import { type AttributeMap, compileFilter, parseFilter } from "../scim/filter";
import { CoreError } from "../shared/errors";

export const RULE_LIMITS = {
  expressionLength: 2_000,
  previewUsers: 100,
  defaultPreviewUsers: 10,
  /** Rules a tenant may have (every profile change evaluates them all). */
  rulesPerTenant: 500,
  /** Users a reconcile looks at per range (one change on the coordinator): at most this many memberships change per flush. */
  reconcileChunk: 1_000,
  /**
   * Ranges one coordinator call takes (each a few D1 calls of the object's, far inside its 1,000 subrequests): a
   * caller's calls for a rule over every user of a tenant of a million are 40, not 1,000.
   */
  rangesPerCall: 25,
} as const;

const CUSTOM_KEY = /^[A-Za-z0-9_-]{1,64}$/;

/** What an expression may name, over the users table as `u`. */
export const RULE_ATTRIBUTES: AttributeMap = {
  email: { expr: sql`u.email_key`, lowered: true },
  name: { expr: sql`u.name` },
  given_name: { expr: sql`u.given_name` },
  family_name: { expr: sql`u.family_name` },
  phone_number: { expr: sql`u.phone_number`, caseExact: true },
  user_id: { expr: sql`u.id`, caseExact: true },
  // custom_data.<key>: one key of the profile's custom data.
  custom_data: {
    multi: (key) =>
      CUSTOM_KEY.test(key) ? { from: sql`(SELECT 1)`, where: sql`1`, item: sql`json_extract(u.custom_data, ${`$."${key}"`})` } : undefined,
  },
};

export const RULE_ATTRIBUTE_NAMES = ["email", "name", "given_name", "family_name", "phone_number", "user_id", "custom_data.<key>"];

/** The expression as an SQL condition on `u`, or 400 naming what is wrong (with the attributes a rule may use). */
export function compileRule(expression: string): SQL {
  if (expression.length > RULE_LIMITS.expressionLength) {
    throw new CoreError("invalid", `expression must be at most ${RULE_LIMITS.expressionLength} characters`, [
      { field: "expression", message: "too long" },
    ]);
  }
  // Rules are evaluated with their values written into the SQL text (core/rules/reads.ts), where a NUL would end it.
  if (expression.includes("\u0000")) {
    throw new CoreError("invalid", "expression must not contain a NUL character", [{ field: "expression", message: "NUL character" }]);
  }
  try {
    return compileFilter(parseFilter(expression), RULE_ATTRIBUTES);
  } catch (e) {
    if (!(e instanceof CoreError)) throw e;
    const known = `; a rule may use ${RULE_ATTRIBUTE_NAMES.join(", ")}`;
    throw new CoreError("invalid", `${e.message}${e.message.includes("attribute") ? known : ""}`, [
      { field: "expression", message: e.message },
    ]);
  }
}
