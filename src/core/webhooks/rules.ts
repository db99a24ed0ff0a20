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

/** Whether an IP literal host (as the URL parser normalises it) is private, loopback, link-local or otherwise not on the internet. */
export function isPrivateAddress(host: string): boolean {
  const v4 = v4Number(host);
  if (v4 !== undefined) return PRIVATE_V4.some((r) => inV4Range(v4, r));
  if (!host.startsWith("[")) return false;
  const v6 = host.slice(1, -1).toLowerCase();
  const mapped = v6.match(/^::ffff:(.+)$/);
  if (mapped) {
    // The parser writes a mapped IPv4 address in hex: ::ffff:7f00:1.
    const hex = mapped[1]!.split(":");
    const n = hex.length === 2 ? parseInt(hex[0]!, 16) * 65536 + parseInt(hex[1]!, 16) : v4Number(mapped[1]!);
    return n === undefined || PRIVATE_V4.some((r) => inV4Range(n, r));
  }
  const first = parseInt(v6.split(":")[0] || "0", 16);
  return (
    v6 === "::" ||
    v6 === "::1" ||
    (first & 0xfe00) === 0xfc00 || // unique local
    (first & 0xffc0) === 0xfe80 || // link-local
    (first & 0xff00) === 0xff00 // multicast
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
  if (LOCAL_NAMES.test(url.hostname) || isPrivateAddress(url.hostname)) {
    throw refused("must not point at a private, loopback or link-local address");
  }
  return url.href;
}
