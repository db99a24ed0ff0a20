// Signing keys from a JWKS URL, kept per URL for 10 minutes. A token whose kid is not in
// the kept set refetches once (at most once a minute per URL), so a key rotation at the
// provider does not lock users out; a failed fetch is remembered for 10 s, so an outage
// at the provider is not hit again by every request.
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { CoreError } from "../core/shared/errors";

const FRESH_MS = 10 * 60_000;
const REFETCH_GAP_MS = 60_000;
const FAILURE_MS = 10_000;

interface Entry {
  keys: HonoJsonWebKey[];
  fetchedAt: number;
  failedAt?: number;
  failure?: string;
}
const cache = new Map<string, Entry>();

async function fetchKeys(url: string): Promise<HonoJsonWebKey[]> {
  const prior = cache.get(url);
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`JWKS answered ${res.status}`);
    const body = (await res.json()) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error("JWKS has no keys array");
    const keys = body.keys as HonoJsonWebKey[];
    cache.set(url, { keys, fetchedAt: Date.now() });
    return keys;
  } catch (e) {
    const failure = `could not fetch the signing keys (${(e as Error).message})`;
    cache.set(url, { keys: prior?.keys ?? [], fetchedAt: prior?.fetchedAt ?? 0, failedAt: Date.now(), failure });
    if (prior?.keys.length) return prior.keys;
    throw new CoreError("unauthorized", failure);
  }
}

/** The key set that should hold this kid: the kept one, or a fresh one when it is stale or lacks the kid. */
export async function keysFor(url: string, kid: string | undefined): Promise<HonoJsonWebKey[]> {
  const now = Date.now();
  const entry = cache.get(url);
  if (entry?.failedAt !== undefined && now - entry.failedAt < FAILURE_MS) {
    if (entry.keys.length) return entry.keys;
    throw new CoreError("unauthorized", entry.failure!);
  }
  if (!entry || now - entry.fetchedAt >= FRESH_MS) return fetchKeys(url);
  const known = kid !== undefined && entry.keys.some((k) => k.kid === kid);
  if (!known && now - entry.fetchedAt >= REFETCH_GAP_MS) return fetchKeys(url);
  return entry.keys;
}

/** Tests only: forget every kept key set. */
export function forgetJwks() {
  cache.clear();
}
