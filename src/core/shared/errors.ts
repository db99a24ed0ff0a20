// Typed errors of the core. Each surface maps a kind to its own wire format;
// the HTTP status of a kind is the same everywhere.
export type ErrorKind =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "precondition_failed"
  | "payload_too_large"
  | "limit_exceeded"
  | "key_reused"
  | "gone"
  | "rate_limited"
  | "unsupported_media_type"
  | "unavailable";

export const statusOf: Record<ErrorKind, 400 | 401 | 403 | 404 | 405 | 409 | 410 | 412 | 413 | 415 | 422 | 429 | 503> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  limit_exceeded: 422,
  key_reused: 422,
  gone: 410,
  rate_limited: 429,
  unsupported_media_type: 415,
  unavailable: 503,
};

export interface ErrorDetail {
  field?: string;
  message: string;
  [key: string]: unknown;
}

export class CoreError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "CoreError";
  }

  get status() {
    return statusOf[this.kind];
  }

  /** A plain object, for crossing a Durable Object RPC boundary, which drops subclass fields. */
  toJSON(): SerializedError {
    return { kind: this.kind, message: this.message, details: this.details };
  }

  static from(e: SerializedError) {
    return new CoreError(e.kind, e.message, e.details);
  }
}

export interface SerializedError {
  kind: ErrorKind;
  message: string;
  details: ErrorDetail[];
}

export const notFound = (what: string, id: string) => new CoreError("not_found", `${what} '${id}' was not found`);
export const notMember = (userId: string, groupId: string) =>
  new CoreError("not_found", `user '${userId}' is not a member of group '${groupId}'`);

/** An error's message with its cause's: drizzle wraps the driver's error, and D1 says what failed only in words. */
export const messagesOf = (e: unknown) =>
  [e, (e as { cause?: unknown })?.cause].map((x) => String((x as { message?: string })?.message ?? x)).join(" ");

/** D1 reports a unique index violation only in its message. */
export function isUniqueViolation(e: unknown, index?: string): boolean {
  const text = messagesOf(e);
  if (!text.includes("UNIQUE constraint failed")) return false;
  return index === undefined || text.includes(index);
}
