import { CoreError } from "./errors";

// Epoch milliseconds → ISO 8601, as Date.prototype.toISOString writes it. A page of 1,000
// events or users formats as many timestamps, and V8's toISOString goes through a printf
// each time (8% of a change-stream page's CPU, profiled): the minute's prefix is formatted
// once and only the seconds are written per call.

/** The range toISOString writes with a four-digit year (0000-01-01 to 9999-12-31). */
const FOUR_DIGIT_YEARS = [-62_167_219_200_000, 253_402_300_800_000] as const;

let minuteOf = Number.NaN;
let prefixOf = "";

export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < FOUR_DIGIT_YEARS[0] || ms >= FOUR_DIGIT_YEARS[1]) return new Date(ms).toISOString();
  const minute = Math.floor(ms / 60_000);
  if (minute !== minuteOf) {
    // "2026-11-27T07:41:", as toISOString writes the minute's first millisecond.
    prefixOf = new Date(minute * 60_000).toISOString().slice(0, 17);
    minuteOf = minute;
  }
  const inMinute = ms - minute * 60_000;
  const seconds = Math.floor(inMinute / 1_000);
  const millis = inMinute - seconds * 1_000;
  return `${prefixOf}${seconds < 10 ? "0" : ""}${seconds}.${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}

/** How far ahead an expiry may be set (memberships, API keys): a century, so a typo of a few digits is refused, not kept. */
export const LONGEST_EXPIRY_MS = 100 * 365 * 86_400_000;

/** 400 unless an expiry (epoch ms; null or undefined: none) is ahead of now and within a century. */
export function assertExpiry(expiresAt: number | null | undefined, now: number = Date.now()) {
  const problem = expiresAt == null ? null : expiryProblem(expiresAt, now);
  if (problem) {
    throw new CoreError("invalid", "expires_at must be a time ahead of now (epoch seconds, within a century)", [
      { field: "expires_at", message: problem },
    ]);
  }
}

/** Why an expiry (epoch ms) cannot be set now, or null when it can. */
export function expiryProblem(expiresAt: number, now: number = Date.now()): string | null {
  if (expiresAt <= now) return "not ahead of now";
  if (expiresAt > now + LONGEST_EXPIRY_MS) return "more than a century ahead";
  return null;
}
