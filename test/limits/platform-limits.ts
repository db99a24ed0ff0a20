// Cloudflare's production limits that the local runtime does not enforce, enforced for the
// workerd suite: the pool's entry (entry.ts) gives the Worker, per request, and each Durable
// Object, per alarm run, bindings wrapped here. A breach fails the way production does:
// D1 refuses the statement, the invocation's next subrequest throws.
import type { Env } from "../../src/env";
import { watchedEnv, withEachDatabase } from "../../src/http/watched-bindings";

export const PLATFORM_LIMITS = {
  /** D1: bound values per statement. */
  d1BoundValues: 100,
  /** D1: bytes of SQL per statement. */
  d1StatementBytes: 100_000,
  /** D1: bytes of one string or blob value. */
  d1ValueBytes: 2_000_000,
  /** Subrequests (D1, KV, Durable Object calls) per invocation. */
  subrequests: 1_000,
  /** KV: writes (put or delete) to one key, across every invocation, per this many ms. */
  kvKeyWriteGapMs: 1_000,
} as const;

/** The subrequests of one invocation. */
export interface Invocation {
  subrequests: number;
  /** The most any invocation made, for the tests that report it. */
  peak: { value: number };
  /** Told of each count, for a report per kind of invocation. */
  counted?: (subrequests: number) => void;
}

export const newInvocation = (peak = { value: 0 }, counted?: (subrequests: number) => void): Invocation => ({
  subrequests: 0,
  peak,
  counted,
});

const bytes = (s: string) => new TextEncoder().encode(s).length;

/** An invocation, or where to find the one running now (a Durable Object's, entry.ts): none, nothing is counted. */
export type InvocationOf = Invocation | (() => Invocation | undefined);

function subrequest(of: InvocationOf) {
  const inv = typeof of === "function" ? of() : of;
  if (!inv) return;
  inv.subrequests += 1;
  inv.peak.value = Math.max(inv.peak.value, inv.subrequests);
  inv.counted?.(inv.subrequests);
  if (inv.subrequests > PLATFORM_LIMITS.subrequests) throw new Error("Too many API requests by single Worker invocation.");
}

function checkStatement(sql: string) {
  if (bytes(sql) > PLATFORM_LIMITS.d1StatementBytes) throw new Error("D1_ERROR: statement too long: SQLITE_TOOBIG");
}

function checkValues(values: unknown[]) {
  if (values.length > PLATFORM_LIMITS.d1BoundValues) throw new Error(`D1_ERROR: too many SQL variables (${values.length}): SQLITE_ERROR`);
  for (const v of values)
    if (typeof v === "string" && bytes(v) > PLATFORM_LIMITS.d1ValueBytes)
      throw new Error("D1_ERROR: string or blob too big: SQLITE_TOOBIG");
}

/**
 * When each KV key was last written, by any invocation: KV's limit is per key, not per
 * caller. performance.now(), not Date.now(): tests that fake the clock fake only Date.
 */
const kvLastWrite = new Map<string, number>();
/** Writes refused so far, and accepted writes per key, for the tests that report them. */
export const kvRefusals = { value: 0 };
export const kvWrites = new Map<string, number>();

function checkKvWrite(key: string) {
  const now = performance.now();
  const last = kvLastWrite.get(key);
  if (last !== undefined && now - last < PLATFORM_LIMITS.kvKeyWriteGapMs) {
    kvRefusals.value += 1;
    throw new Error(`KV PUT failed: 429 Too Many Requests (${key} was written ${Math.round(now - last)} ms ago)`);
  }
  kvLastWrite.set(key, now);
  kvWrites.set(key, (kvWrites.get(key) ?? 0) + 1);
  if (kvLastWrite.size > 100_000) kvLastWrite.clear();
  if (kvWrites.size > 100_000) kvWrites.clear();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `db` with every call to D1 (a statement's first/all/run/raw, a batch, an exec; in a session too) made through `around`. */
function aroundD1(db: D1Database, around: (call: () => Promise<unknown>) => Promise<unknown>): D1Database {
  const statement = (s: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(s, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t);
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => statement(value.apply(t, args));
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw")
          return (...args: unknown[]) => around(() => value.apply(t, args));
        return value.bind(t);
      },
    });
  return new Proxy(db, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      if (prop === "prepare") return (query: string) => statement(value.call(t, query));
      if (prop === "withSession") return (...args: unknown[]) => aroundD1(value.apply(t, args), around);
      if (prop === "batch" || prop === "exec") return (...args: unknown[]) => around(() => value.apply(t, args));
      return value.bind(t);
    },
  });
}

/**
 * Production's round trip to D1 (the latency model of `npm run bench`): every D1 call waits
 * `ms` before it runs. Set by the D1_DELAY_MS binding (EDGE_GROUPS_D1_DELAY_MS for a local server).
 */
const delayedD1 = (db: D1Database, ms: number) =>
  aroundD1(db, async (call) => {
    await sleep(ms);
    return call();
  });

/** A string D1 would refuse to produce, anywhere in a result (its rows, a batch's results); D1's values are flat. */
function oversize(x: unknown, depth = 0): boolean {
  if (typeof x === "string") return x.length * 3 > PLATFORM_LIMITS.d1ValueBytes && bytes(x) > PLATFORM_LIMITS.d1ValueBytes;
  if (depth > 4 || x === null || typeof x !== "object") return false;
  return Object.values(x).some((v) => oversize(v, depth + 1));
}

/** D1's value limit binds what SQL makes too (an aggregate, a concatenation), not only what is bound: results are checked. */
const valueLimitedD1 = (db: D1Database) =>
  aroundD1(db, async (call) => {
    const result = await call();
    if (oversize(result)) throw new Error("D1_ERROR: string or blob too big: SQLITE_TOOBIG");
    return result;
  });

/** The bindings of one invocation, refusing what production refuses. */
/**
 * For the benchmark of what events cost (bench/webhooks.mjs), never for tests: the same D1 with
 * every event INSERT (core/events/writes.ts) turned into a statement that writes nothing, so a
 * change runs its very batch minus its event. Set by EVENTS_OFF=on (EDGE_GROUPS_EVENTS=off for a local server).
 */
function withoutEvents(db: D1Database): D1Database {
  return new Proxy(db, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      if (prop === "prepare")
        return (query: string) => {
          if (!/^\s*INSERT INTO audit_log\b/i.test(query)) return value.call(t, query);
          const nothing = value.call(t, "SELECT 1 WHERE 0") as D1PreparedStatement;
          return Object.assign(Object.create(nothing), { bind: () => nothing });
        };
      if (prop === "withSession") return (...args: unknown[]) => withoutEvents(value.apply(t, args));
      return value.bind(t);
    },
  });
}

export function limitedEnv(env: Env, inv: InvocationOf): Env {
  const delay = Number((env as Env & { D1_DELAY_MS?: string }).D1_DELAY_MS ?? 0);
  env = withEachDatabase(env, valueLimitedD1);
  if (delay > 0) env = withEachDatabase(env, (d1) => delayedD1(d1, delay));
  if ((env as Env & { EVENTS_OFF?: string }).EVENTS_OFF === "on") env = withEachDatabase(env, withoutEvents);
  const watched = watchedEnv(env, { call: () => subrequest(inv), prepare: checkStatement, bind: checkValues });
  const kv = watched.CLAIMS;
  const writeOnce =
    (write: (key: string, ...rest: never[]) => Promise<unknown>) =>
    async (key: string, ...rest: never[]) => {
      checkKvWrite(key);
      return write.call(kv, key, ...rest);
    };
  const CLAIMS = Object.assign(Object.create(kv) as KVNamespace, { put: writeOnce(kv.put), delete: writeOnce(kv.delete) });
  return { ...watched, CLAIMS };
}
