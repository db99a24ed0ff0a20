// SCIM filters (RFC 7644 §3.4.2.2) compiled to SQL over users or groups, so a list
// reads only the matching rows. Parsing is scim2-parse-filter's; values identity
// providers send unquoted (`userName sw O`) are quoted first.

import { type SQL, sql } from "drizzle-orm";
import { type Filter, parse } from "scim2-parse-filter";
import { boundValues } from "../shared/context";
import { CoreError } from "../shared/errors";

const invalidFilter = (detail: string) =>
  new CoreError("invalid", detail, [{ field: "filter", message: detail, scimType: "invalidFilter" }]);

export const MAX_FILTER_VALUES = 80;
/**
 * SQLite refuses an expression tree over 100 levels deep, and chained ORs and ANDs count a level
 * each: a filter's comparisons (pr included) and its nesting of not, and, or and [] are bounded
 * so that the largest filter allowed stays well inside it.
 */
export const MAX_FILTER_TERMS = MAX_FILTER_VALUES;
export const MAX_FILTER_NESTING = 8;

/** A parsed filter's comparisons and how deep its not, and, or and [] nodes nest (without recursion). */
function sizeOf(f: Filter): { terms: number; nesting: number } {
  let terms = 0;
  let nesting = 0;
  const stack: [Filter, number][] = [[f, 0]];
  while (stack.length > 0) {
    const [n, depth] = stack.pop()!;
    if (n.op === "and" || n.op === "or") for (const c of n.filters) stack.push([c, depth + 1]);
    else if (n.op === "not") stack.push([n.filter, depth + 1]);
    else if (n.op === "[]") stack.push([n.valFilter, depth + 1]);
    else terms += 1;
    nesting = Math.max(nesting, depth);
  }
  return { terms, nesting };
}
const OPERATORS = new Set(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
const JSON_LITERAL = /^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/;

/** Quote the bare word after a comparison operator unless it is a JSON literal; quoted strings are left alone. */
export function quoteBareValues(filter: string): string {
  const tokens: string[] = [];
  let i = 0;
  while (i < filter.length) {
    const ch = filter[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < filter.length && filter[j] !== '"') j += filter[j] === "\\" ? 2 : 1;
      tokens.push(filter.slice(i, j + 1));
      i = j + 1;
    } else if (/[\s()[\]]/.test(ch)) {
      tokens.push(ch);
      i += 1;
    } else {
      let j = i;
      while (j < filter.length && !/[\s()[\]"]/.test(filter[j]!)) j += 1;
      tokens.push(filter.slice(i, j));
      i = j;
    }
  }
  const words = tokens.map((t, k) => ({ t, k })).filter((x) => x.t.trim() !== "");
  for (let w = 1; w < words.length; w++) {
    const { t, k } = words[w]!;
    if (OPERATORS.has(words[w - 1]!.t.toLowerCase()) && !t.startsWith('"') && !/^[()[\]]$/.test(t) && !JSON_LITERAL.test(t)) {
      tokens[k] = JSON.stringify(t);
    }
  }
  return tokens.join("");
}

export function parseFilter(filter: string): Filter {
  try {
    return parse(quoteBareValues(filter));
  } catch (e) {
    throw invalidFilter(`invalid filter: ${(e as Error).message}`);
  }
}

/** How an attribute path maps to SQL: a scalar expression, or a multi-valued attribute walked with json_each. */
export type AttributeMap = Record<
  string,
  /** lowered: the column holds the value lower-cased (an indexed key), so only the operand is lowered. */
  | { expr: SQL; caseExact?: boolean; lowered?: boolean; kind?: "string" | "boolean" | "date" }
  /** A multi-valued attribute: the rows to search (FROM ... WHERE ...) and each sub-attribute's expression. */
  | { multi: (sub: string) => { from: SQL; where: SQL; item: SQL } | undefined }
>;

/** A multi-valued attribute stored as a JSON array of objects in a column. */
export const jsonArray = (column: SQL, subs: string[]): AttributeMap[string] => ({
  multi: (sub) => {
    const name = subs.find((s) => s.toLowerCase() === sub.toLowerCase());
    return name === undefined
      ? undefined
      : { from: sql`json_each(coalesce(${column}, '[]')) x`, where: sql`1`, item: sql.raw(`json_extract(x.value, '$.${name}')`) };
  },
});

function compare(op: string, left: SQL, value: unknown, kind: "string" | "boolean" | "date", caseExact: boolean, lowered = false): SQL {
  if (kind === "date") {
    const ms = typeof value === "string" ? Date.parse(value) : NaN;
    if (Number.isNaN(ms)) throw invalidFilter(`'${String(value)}' is not a date-time`);
    value = ms;
  } else if (kind === "boolean") {
    if (typeof value === "string" && /^(true|false)$/i.test(value)) value = value.toLowerCase() === "true";
    if (typeof value !== "boolean") throw invalidFilter(`'${String(value)}' is not a boolean`);
    value = value ? 1 : 0;
  }
  if (typeof value === "number" && !Number.isFinite(value)) throw invalidFilter(`'${String(value)}' is not a finite number`);
  const text = typeof value === "string";
  const l = text && !caseExact && !lowered ? sql`lower(${left})` : left;
  const v = text && !caseExact ? (value as string).normalize("NFC").toLowerCase() : value;
  switch (op) {
    case "eq":
      return v === null ? sql`${left} IS NULL` : sql`${l} = ${v}`;
    case "ne":
      return v === null ? sql`${left} IS NOT NULL` : sql`(${l} IS NULL OR ${l} != ${v})`;
    // No LIKE: D1 refuses patterns over 50 bytes, and these compare the text exactly, any length.
    case "co":
      return sql`instr(${l}, ${String(v)}) > 0`;
    case "sw":
      return sql`substr(${l}, 1, length(${String(v)})) = ${String(v)}`;
    case "ew":
      return sql`(length(${l}) >= length(${String(v)}) AND substr(${l}, -length(${String(v)})) = ${String(v)})`;
    case "gt":
      return sql`${l} > ${v}`;
    case "ge":
      return sql`${l} >= ${v}`;
    case "lt":
      return sql`${l} < ${v}`;
    case "le":
      return sql`${l} <= ${v}`;
  }
  throw invalidFilter(`unsupported operator '${op}'`);
}

/** Compile a parsed filter; attribute names are matched case-insensitively, as RFC 7643 says. */
export function compileFilter(f: Filter, attrs: AttributeMap): SQL {
  const { terms, nesting } = sizeOf(f);
  if (terms > MAX_FILTER_TERMS)
    throw invalidFilter(`the filter has ${terms} comparisons; at most ${MAX_FILTER_TERMS} (split it into several requests)`);
  if (nesting > MAX_FILTER_NESTING)
    throw invalidFilter(`the filter nests not, and, or and [] ${nesting} levels deep; at most ${MAX_FILTER_NESTING}`);
  const lookup = (path: string) => {
    const key = Object.keys(attrs).find((k) => k.toLowerCase() === path.toLowerCase());
    return key === undefined ? undefined : attrs[key];
  };
  const scalar = (path: string, op: string, value: unknown): SQL => {
    const direct = lookup(path);
    if (direct && "expr" in direct) {
      if (op === "pr") return sql`(${direct.expr} IS NOT NULL AND ${direct.expr} != '')`;
      return compare(op, direct.expr, value, direct.kind ?? "string", direct.caseExact ?? false, direct.lowered ?? false);
    }
    // emails.value: a sub-attribute of a multi-valued attribute, true when any value matches.
    const dot = path.lastIndexOf(".");
    const parent = direct ?? (dot > 0 ? lookup(path.slice(0, dot)) : undefined);
    if (parent && "multi" in parent) {
      const rows = parent.multi(direct ? "value" : path.slice(dot + 1));
      if (!rows) throw invalidFilter(`unknown attribute '${path}'`);
      const test = op === "pr" ? sql`${rows.item} IS NOT NULL` : compare(op, rows.item, value, "string", false);
      return sql`EXISTS (SELECT 1 FROM ${rows.from} WHERE ${rows.where} AND ${test})`;
    }
    throw invalidFilter(`unknown or unsupported attribute '${path}' in filter`);
  };
  const walk = (node: Filter): SQL => {
    switch (node.op) {
      case "and":
        return sql`(${sql.join(node.filters.map(walk), sql` AND `)})`;
      case "or":
        return sql`(${sql.join(node.filters.map(walk), sql` OR `)})`;
      case "not":
        return sql`NOT (${walk(node.filter)})`;
      case "[]": {
        // members[value eq "x"]: rewrite the inner filter's paths under the outer attribute.
        const prefix = node.attrPath;
        const rewrite = (n: Filter): Filter =>
          n.op === "and" || n.op === "or"
            ? { ...n, filters: n.filters.map(rewrite) }
            : n.op === "not"
              ? { ...n, filter: rewrite(n.filter) }
              : n.op === "[]"
                ? n
                : ({ ...n, attrPath: `${prefix}.${(n as { attrPath: string }).attrPath}` } as Filter);
        return walk(rewrite(node.valFilter));
      }
      case "pr":
        return scalar(node.attrPath, "pr", undefined);
      default:
        return scalar(node.attrPath, node.op, (node as { compValue: unknown }).compValue);
    }
  };
  const compiled = walk(f);
  // Each compared value is a bound value, and D1 binds at most 100 in a statement; the
  // rest of a list statement (tenant, paging) uses fewer than 20.
  const values = boundValues(compiled);
  if (values > MAX_FILTER_VALUES) {
    throw invalidFilter(`the filter compares ${values} values; at most ${MAX_FILTER_VALUES} (split it into several requests)`);
  }
  return compiled;
}
