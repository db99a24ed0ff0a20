// Raw rows of hand-written SQL (recursive CTEs, json_each) → drizzle's row shape, from the
// schema's own column list, so a new column can never be left out of a mapping.
import { getTableColumns, type InferSelectModel, type Table } from "drizzle-orm";

export function rowOf<T extends Table>(table: T, raw: Record<string, unknown>): InferSelectModel<T> {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = raw[column.name];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out as InferSelectModel<T>;
}
