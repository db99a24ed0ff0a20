import { type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Env } from "../../env";
import { tenantDatabase } from "../shards/directory";

/**
 * How the caller proved who it is: a tenant's JWT, a tenant's API key, or a vendor
 * token acting for the tenant it named (the only credential that may choose its tenant).
 */
export type CredentialKind = "token" | "api_key" | "vendor";

/** Who is calling, from a verified credential. */
export interface Principal {
  tenantId: string;
  subject: string;
  credential: CredentialKind;
  scopes: ReadonlySet<string>;
  /** The caller's role keys (resolved to levels by the roles rules). */
  roles: readonly string[];
}

export type Db = ReturnType<typeof database>;

/**
 * Without the schema: nothing uses drizzle's relational queries (db.query), and given the
 * schema drizzle would rebuild their config on every call (a tenth of a feed page's CPU).
 */
export function database(d1: D1Database) {
  return drizzle(d1);
}

/** What every core function is given: the bindings and the tenant from the verified token. */
export interface Scope {
  env: Env;
  db: Db;
  tenantId: string;
  actor: string;
  principal?: Principal;
  /** The versions the request's If-Match allows the resource it writes to be at (core/shared/versions.ts); undefined: any. */
  expect?: readonly number[];
  /** The public surface the request came through (native, seed-001, scim, ...): the source of its changes in the change stream. */
  surface?: string;
}

/** Something that opens the request's D1 session on a shard (http/d1-session.ts); none: the shard as it is. */
export interface SessionOpener {
  open(shard: D1Database, name: string): D1Database | object;
}

/** The scope of a tenant: its database is its shard (core/shards/directory.ts), in the request's session. */
export async function tenantScope(env: Env, tenantId: string, actor: string, sessions?: SessionOpener): Promise<Scope> {
  const { shard, d1 } = await tenantDatabase(env, tenantId);
  return { env, db: database((sessions?.open(d1, shard) ?? d1) as D1Database), tenantId, actor };
}

export async function scopeFor(env: Env, principal: Principal, sessions?: SessionOpener): Promise<Scope> {
  return { ...(await tenantScope(env, principal.tenantId, principal.subject, sessions)), principal };
}

/** The tenant's database outside a request (Durable Objects, alarms, queue consumers). */
export const tenantDb = async (env: Env, tenantId: string) => database((await tenantDatabase(env, tenantId)).d1);

const dialect = new SQLiteAsyncDialect();

/** How many values the statement binds: D1 allows at most 100 per statement. */
export const boundValues = (statement: SQL) => dialect.sqlToQuery(statement).params.length;

/**
 * The statement's text with every value written in as an SQL literal (strings quoted, quotes
 * doubled: SQLite has no other escape), for a fragment many statements share and that would
 * otherwise bind more values than D1 allows. Numbers must be finite.
 */
export function inlinedText(statement: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(sql`${statement}`.inlineParams());
  if (params.length > 0) throw new Error("a value could not be inlined");
  return text;
}

/**
 * Run drizzle `sql` statements as one D1 batch (one transaction, all or nothing).
 * drizzle's own batch takes only its query builders, and these statements are
 * hand-written for json_each.
 */
export function batch(db: Db, statements: SQL[]): Promise<D1Result[]> {
  const d1 = db.$client;
  return d1.batch(
    statements.map((s) => {
      const q = dialect.sqlToQuery(s);
      return d1.prepare(q.sql).bind(...q.params);
    }),
  );
}

/**
 * Rows changed by statement i of a batch, with the rows its triggers changed: a tenant move's copy logs every write
 * (migration 0013), and local D1 counts those too. Good for "did it change anything"; a count a caller is answered
 * with is returnedOf's.
 */
export const changesOf = (results: D1Result[], i: number) => results[i]?.meta.changes ?? 0;

/** Rows statement i of a batch wrote itself, as its `RETURNING 1` lists them (RETURNING leaves out what triggers write). */
export const returnedOf = (results: D1Result[], i: number) => results[i]?.results.length ?? 0;
