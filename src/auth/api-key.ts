// API keys as credentials. A key known to this isolate is answered from memory (no D1
// query) for at most KEY_CACHE_MS; after that its row is read again, so a key revoked in
// any isolate stops working everywhere within that bound. The isolate that revokes a key
// forgets it at once.

import { type ApiKeyRow, findApiKeyByHash, hashSecret, isWellFormedApiKey, touchApiKey } from "../core/keys";
import type { Principal } from "../core/shared/context";
import { CoreError } from "../core/shared/errors";
import type { Env } from "../env";

export const KEY_CACHE_MS = 30_000;
const TOUCH_GAP_MS = 60_000;
const CACHE_MAX = 10_000;

interface Known {
  row: ApiKeyRow;
  principal: Principal;
  readAt: number;
  touchedAt: number;
}
// By the key's exact text, as verified tokens are (auth/verify.ts): a known key costs one
// map lookup, no hashing.
const known = new Map<string, Known>();

const refused = (message: string) => new CoreError("unauthorized", message);

function principalOf(row: ApiKeyRow): Principal {
  return {
    tenantId: row.tenantId,
    subject: `key:${row.id}`,
    credential: "api_key",
    scopes: new Set(row.scopes.split(" ").filter(Boolean)),
    roles: [],
  };
}

function check(row: ApiKeyRow, now: number) {
  if (row.revokedAt !== null && row.revokedAt <= now) throw refused("API key has been revoked");
  if (row.expiresAt !== null && row.expiresAt <= now) throw refused("API key has expired");
}

/**
 * The principal of a presented key. `background` runs the last-used write off the
 * request's path (the Worker's waitUntil).
 */
export async function verifyApiKey(env: Env, secret: string, background: (p: Promise<unknown>) => void): Promise<Principal> {
  const now = Date.now();
  let entry = known.get(secret);
  if (!entry || now - entry.readAt >= KEY_CACHE_MS) {
    if (!isWellFormedApiKey(secret)) throw refused("API key is malformed");
    const row = await findApiKeyByHash(env, await hashSecret(secret));
    if (!row) {
      known.delete(secret);
      throw refused("API key is not known");
    }
    if (known.size >= CACHE_MAX) known.delete(known.keys().next().value!);
    entry = { row, principal: principalOf(row), readAt: now, touchedAt: entry?.touchedAt ?? 0 };
    known.set(secret, entry);
  }
  check(entry.row, now);
  if (now - entry.touchedAt >= TOUCH_GAP_MS) {
    entry.touchedAt = now;
    background(touchApiKey(env, entry.row, now).catch((e) => console.error("could not record an API key's use", e)));
  }
  return entry.principal;
}

/** Called by the isolate that revokes a key, so its revocation holds here at once (revoking is rare: a scan is fine). */
export function forgetApiKey(secretHash: string) {
  for (const [secret, entry] of known) if (entry.row.secretHash === secretHash) known.delete(secret);
}
