// Per-tenant API keys: long-lived secrets for identity providers (SCIM), analytics SDKs
// (write keys), token hooks and ops scripts. The secret is shown once; D1 keeps only its
// SHA-256, which is how a presented key finds its row (and so its tenant).
import { and, desc, eq, sql } from "drizzle-orm";
import { apiKeys } from "../../db/schema";
import type { Env } from "../../env";
import { eventStatement } from "../events/writes";
import { registerKeyTenant, tenantOfKey } from "../shards/key-tenants";
import { batch, type Scope, tenantDb } from "../shared/context";
import { CoreError, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { abortIf, isAborted } from "../shared/preconditions";
import { rowOf } from "../shared/rows";
import { holdsScope, type KnownScope } from "../shared/scopes";
import { assertExpiry } from "../shared/time";

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** A recognisable prefix, then 32 random bytes in base64url: 47 characters. */
export const API_KEY_PREFIX = "egk_";
const API_KEY_PATTERN = /^egk_[A-Za-z0-9_-]{43}$/;
export const MAX_ACTIVE_KEYS = 100;

export const looksLikeApiKey = (text: string) => text.startsWith(API_KEY_PREFIX);
export const isWellFormedApiKey = (text: string) => API_KEY_PATTERN.test(text);

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return (
    API_KEY_PREFIX +
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "")
  );
}

export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface NewApiKey {
  name: string;
  scopes: KnownScope[];
  /** Epoch milliseconds; absent: the key does not expire. */
  expiresAt?: number;
}

/** The tenant's unrevoked keys, counted: what MAX_ACTIVE_KEYS bounds. */
const activeKeysSql = (tenantId: string) => sql`(SELECT count(*) FROM api_keys WHERE tenant_id = ${tenantId} AND revoked_at IS NULL)`;

const tooManyKeys = () => new CoreError("limit_exceeded", `a tenant may hold at most ${MAX_ACTIVE_KEYS} unrevoked keys; revoke one first`);

export async function createApiKey(scope: Scope, input: NewApiKey): Promise<{ key: ApiKeyRow; secret: string }> {
  const now = Date.now();
  assertExpiry(input.expiresAt, now);
  const lacking = input.scopes.filter((s) => !scope.principal || !holdsScope(scope.principal, [s]));
  if (lacking.length) throw new CoreError("forbidden", `a key cannot be given scopes its creator lacks: ${lacking.join(", ")}`);
  const active = await scope.db.get<{ n: number }>(sql`SELECT ${activeKeysSql(scope.tenantId)} AS n`);
  if ((active?.n ?? 0) >= MAX_ACTIVE_KEYS) throw tooManyKeys();
  const secret = newSecret();
  const key: ApiKeyRow = {
    tenantId: scope.tenantId,
    id: newId(),
    name: input.name,
    secretHash: await hashSecret(secret),
    hint: secret.slice(0, 12),
    scopes: [...new Set(input.scopes)].join(" "),
    createdBy: scope.actor,
    createdAt: now,
    lastUsedAt: null,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  };
  await registerKeyTenant(scope.env, key.secretHash, scope.tenantId);
  try {
    await batch(scope.db, [
      scope.db.insert(apiKeys).values(key).getSQL(),
      // Counted again as the insert leaves them: keys created at once were each under the limit when counted above.
      abortIf(sql`${activeKeysSql(scope.tenantId)} > ${MAX_ACTIVE_KEYS}`),
      eventStatement(
        scope,
        "key.create",
        { type: "key", id: key.id },
        { after: { name: key.name, scopes: key.scopes.split(" "), expires_at: key.expiresAt } },
        now,
      ),
    ]);
  } catch (e) {
    throw isAborted(e) ? tooManyKeys() : e;
  }
  return { key, secret };
}

export async function listApiKeys(scope: Scope): Promise<ApiKeyRow[]> {
  return scope.db.select().from(apiKeys).where(eq(apiKeys.tenantId, scope.tenantId)).orderBy(desc(apiKeys.createdAt), apiKeys.id).all();
}

/** Revoking twice keeps the first time. */
export async function revokeApiKey(scope: Scope, id: string): Promise<ApiKeyRow> {
  const now = Date.now();
  const key = and(eq(apiKeys.tenantId, scope.tenantId), eq(apiKeys.id, id));
  const [, revoked] = await batch(scope.db, [
    // Only the first revocation is a change.
    eventStatement(
      scope,
      "key.revoke",
      { type: "key", id },
      {},
      now,
      sql`EXISTS (SELECT 1 FROM api_keys WHERE ${key} AND revoked_at IS NULL)`,
    ),
    scope.db
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now})` })
      .where(key)
      .returning()
      .getSQL(),
  ]);
  const raw = revoked!.results[0] as Record<string, unknown> | undefined;
  if (!raw) throw notFound("API key", id);
  return rowOf(apiKeys, raw);
}

/** The key whose secret has this hash: the control database names its tenant, whose shard holds the key. */
export async function findApiKeyByHash(env: Env, secretHash: string): Promise<ApiKeyRow | undefined> {
  const tenantId = await tenantOfKey(env, secretHash);
  if (!tenantId) return undefined;
  const db = await tenantDb(env, tenantId);
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.secretHash, secretHash)))
    .get();
}

/** Record use at most once a minute per key, whichever isolate sees it. */
export async function touchApiKey(env: Env, key: Pick<ApiKeyRow, "tenantId" | "id">, now = Date.now()) {
  const db = await tenantDb(env, key.tenantId);
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.tenantId, key.tenantId), eq(apiKeys.id, key.id), sql`coalesce(${apiKeys.lastUsedAt}, 0) <= ${now - 60_000}`));
}
