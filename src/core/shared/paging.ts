import { textOfBase64 } from "./base64";
import { CoreError } from "./errors";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// Opaque cursors: the keyset position, base64url-encoded so clients do not build them.
export function encodeCursor(position: string): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ after: position }));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(textOfBase64(cursor));
    if (typeof parsed?.after === "string") return parsed.after;
  } catch {
    // fall through to the error below
  }
  throw new CoreError("invalid", "cursor is not one this API returned", [{ field: "cursor", message: "invalid cursor" }]);
}

/** Take one row more than the page, to know whether another page follows. */
export function pageOf<T>(rows: T[], limit: number, positionOf: (row: T) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(positionOf(items[items.length - 1]!)) : null };
}
