// zod as @hono/zod-openapi extends it: these schemas are described in /openapi.json, and
// zod 4 gives .openapi() only to schemas made after the extension loaded.
import { z } from "@hono/zod-openapi";
import { CoreError } from "./errors";
import { ID_PATTERN } from "./ids";

// A missing field says it is required (zod's default reads "expected string, received
// undefined"); a schema's own message, where it has one, still wins.
z.config({ customError: (issue) => (issue.code === "invalid_type" && issue.input === undefined ? "is required" : undefined) });

// The field rules every surface shares. Surfaces build their wire schemas from these,
// so a limit is stated once.
export const LIMITS = {
  nameMax: 200,
  descriptionMax: 2_000,
  customDataBytes: 16 * 1024,
  idsPerCall: 1_000,
  bodyBytes: 2 * 1024 * 1024,
  /** Levels of objects and arrays in a body (or a JSON-encoded field): SQLite's JSON functions refuse past 1,000. */
  jsonDepth: 32,
} as const;

export const JSON_DEPTH_MESSAGE = `must not nest objects and arrays more than ${LIMITS.jsonDepth} levels deep`;

/**
 * Whether a parsed JSON value nests at most `max` levels of objects and arrays. Walked without
 * recursion, so a hostile value cannot overflow the stack while it is measured.
 */
export function withinJsonDepth(value: unknown, max: number = LIMITS.jsonDepth): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > max) return false;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

/**
 * A parsed body within LIMITS.jsonDepth, else 400. Stored JSON (custom data, traits, SCIM
 * attributes, the events that carry them) is read by SQLite's JSON functions, which refuse a
 * value nested over 1,000 levels: one such value would make every filtered read of the change
 * stream that meets it fail, so it is refused at the door.
 */
export function assertJsonDepth(body: unknown, field = "request body"): void {
  if (!withinJsonDepth(body)) throw new CoreError("invalid", `invalid ${field}`, [{ field, message: JSON_DEPTH_MESSAGE }]);
}

export const idSchema = z.string().regex(ID_PATTERN, "must be 1-128 characters of A-Z a-z 0-9 . _ : @ + -");

/**
 * Characters a name shown to people may not hold: C0 and C1 controls (a NUL, a newline, an
 * escape sequence in someone's terminal), the bidirectional embeddings, overrides and
 * isolates, with which "Admins\u202Esnimda" reads as another name (Trojan Source), and the
 * invisible ones (zero-width space, word joiner, BOM) that make "Admins" and "Admin\u200Bs"
 * two names that look one. The marks an RTL name needs (U+200E, U+200F) and the joiners
 * scripts and emoji sequences need (U+200C, U+200D) stay allowed.
 */
const UNSHOWABLE_CHARS = "\u0000-\u001f\u007f-\u009f\u200b\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff";
const UNSHOWABLE = new RegExp(`[${UNSHOWABLE_CHARS}]`);
/** The same characters as a SQLite GLOB pattern of a text holding one (NUL cannot be in a pattern). */
export const UNSHOWABLE_GLOB = `*[${UNSHOWABLE_CHARS.replace("\u0000", "\u0001")}]*`;
export const UNSHOWABLE_MESSAGE = "must not hold control characters, bidirectional overrides or invisible characters";
export const isShowable = (s: string) => !UNSHOWABLE.test(s);

/** A name people read: trimmed, not empty, at most `max` characters, nothing unshowable. */
export const displayNameSchema = (max: number) =>
  z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`).refine(isShowable, UNSHOWABLE_MESSAGE);

export const groupNameSchema = displayNameSchema(LIMITS.nameMax);

export const descriptionSchema = z.string().max(LIMITS.descriptionMax, `must be at most ${LIMITS.descriptionMax} characters`);

export const customDataSchema = z
  .record(z.string(), z.unknown())
  .refine((v) => new TextEncoder().encode(JSON.stringify(v)).length <= LIMITS.customDataBytes, {
    message: `must be a JSON object of at most ${LIMITS.customDataBytes} bytes`,
  });

export const emailSchema = z.email().max(320);
/** E.164: a plus, then 7 to 15 digits, the first not zero. */
export const phoneSchema = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +14155550123");

export const idListSchema = z
  .array(idSchema)
  .min(1, "must name at least one id")
  .max(LIMITS.idsPerCall, `must name at most ${LIMITS.idsPerCall} ids`);

export const memberRoleSchema = z.enum(["member", "admin"]);

export const welcomeMessageSchema = z.string().max(2_000, "must be at most 2,000 characters");
