// Webhooks' rules: which URLs a tenant may register, the limits, and the retry schedule.
import { CoreError } from "../shared/errors";

/** A queue message: one event (by cursor) for one endpoint. The event itself stays in D1, so no message nears the Queue's 128 KB limit. */
export interface WebhookMessage {
  tenant: string;
  endpoint: string;
  cursor: number;
}

/** The cron (wrangler.toml [triggers]) that runs the outbox sweep. */
export const WEBHOOK_SWEEP_CRON = "* * * * *";

export const WEBHOOK_LIMITS = {
  endpointsPerTenant: 20,
  urlLength: 2_048,
  descriptionLength: 500,
  /** An event whose JSON is larger is sent as a reference the receiver fetches from GET /v1/events. */
  inlineEventBytes: 128 * 1024,
  /** Attempts in all, the first included; then the delivery is dead (redeliver starts again). */
  attempts: 12,
  /** The longest wait between two attempts. */
  maxDelaySeconds: 6 * 3600,
  defaultBaseDelaySeconds: 30,
  /** A receiver that has not answered by then has failed this attempt. */
  timeoutMs: 10_000,
  /** A queued delivery the consumer has not settled in this long is sent again by the sweep (its message was lost). */
  leaseMs: 10 * 60_000,
  /** Deliveries listed in one page. */
  page: 100,
} as const;

/** Seconds before attempt `attempt + 1`, after `attempt` failed ones: base, 2 × base, 4 × base, ... capped. */
export const retryDelaySeconds = (attempt: number, base: number = WEBHOOK_LIMITS.defaultBaseDelaySeconds) =>
  Math.min(WEBHOOK_LIMITS.maxDelaySeconds, Math.max(1, Math.round(base * 2 ** (attempt - 1))));

const PRIVATE_V4: [number, number][] = [
  [0x00000000, 8], // "this" network
  [0x0a000000, 8], // private
  [0x64400000, 10], // carrier-grade NAT
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local (and cloud metadata)
  [0xac100000, 12], // private
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0a80000, 16], // private
  [0xc6120000, 15], // benchmarking
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved and broadcast
];

function v4Number(host: string): number | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

const inV4Range = (n: number, [base, bits]: [number, number]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits));

/** The eight 16-bit groups of an IPv6 literal as the URL parser writes it (hex, `::` at most once). */
function v6Groups(text: string): number[] | undefined {
  const [head = "", tail] = text.split("::");
  const part = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const [front, back] = [part(head), part(tail ?? "")];
  const groups = tail === undefined ? front : [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

const privateV4 = (n: number) => PRIVATE_V4.some((r) => inV4Range(n, r));

/**
 * The IPv4 address an IPv6 one carries, where reaching it would reach that IPv4 address:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, also :: and ::1), SIIT
 * (::ffff:0:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
 */
function embeddedV4([a, b, c, d, e, f, g, h]: number[]): number | undefined {
  const low = g! * 65536 + h!;
  if (a === 0 && b === 0 && c === 0 && d === 0 && ((e === 0 && (f === 0 || f === 0xffff)) || (e === 0xffff && f === 0))) return low;
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return low;
  if (a === 0x2002) return b! * 65536 + c!;
  return undefined;
}

/** Whether an IP literal host (as the URL parser normalises it) is private, loopback, link-local or otherwise not on the internet. */
export function isPrivateAddress(host: string): boolean {
  const v4 = v4Number(host);
  if (v4 !== undefined) return privateV4(v4);
  if (!host.startsWith("[")) return false;
  const groups = v6Groups(host.slice(1, -1));
  if (!groups) return true; // not an address this check understands: refuse rather than guess
  const carried = embeddedV4(groups);
  if (carried !== undefined) return privateV4(carried);
  const first = groups[0]!;
  return (
    (first & 0xfe00) === 0xfc00 || // unique local
    (first & 0xffc0) === 0xfe80 || // link-local
    (first & 0xff00) === 0xff00 || // multicast
    (first === 0x64 && groups[1] === 0xff9b) // NAT64 for local use (64:ff9b:1::/48)
  );
}

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|home\.arpa)$/i;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

const refused = (message: string) => new CoreError("invalid", `url ${message}`, [{ field: "url", message }]);

/**
 * The URL a webhook may point at: https, on the internet. allowLocalHttp (a local-development
 * setting) also lets it be http or https on this machine's loopback, for a receiver beside `npm start`.
 */
export function checkWebhookUrl(text: string, allowLocalHttp: boolean): string {
  if (text.length > WEBHOOK_LIMITS.urlLength) throw refused(`must be at most ${WEBHOOK_LIMITS.urlLength} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refused("is not a URL");
  }
  if (url.username || url.password) throw refused("must not carry credentials; the signature proves the sender");
  const local = allowLocalHttp && LOOPBACK_HOSTS.has(url.hostname);
  if (local && (url.protocol === "http:" || url.protocol === "https:")) return url.href;
  if (url.protocol !== "https:") throw refused("must be https");
  // A trailing dot names the same host (localhost. is localhost).
  const host = url.hostname.replace(/\.+$/, "");
  if (LOCAL_NAMES.test(host) || isPrivateAddress(host)) {
    throw refused("must not point at a private, loopback or link-local address");
  }
  return url.href;
}
