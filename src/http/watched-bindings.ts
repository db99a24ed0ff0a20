// The Worker's bindings seen through a watcher: every call that leaves the Worker (a D1
// statement run or batch, a KV operation, a call on a Durable Object stub, a message sent to
// the webhook queue) is reported
// before it is made, and a D1 statement's SQL and bound values can be looked at first.
// The request log counts calls with it; the test suite's limits layer (test/limits/)
// refuses with it what production refuses.
import { shardNames } from "../core/shards/bindings";
import type { Env } from "../env";

export type CallKind = "d1" | "kv" | "durableObjects" | "queues";

export interface Watcher {
  call(kind: CallKind): void;
  prepare?(sql: string): void;
  bind?(values: unknown[]): void;
}

type Method = (...args: unknown[]) => unknown;

/** A view of the object whose methods run `before` each call and may replace its result. */
function intercept<T extends object>(
  target: T,
  before: (name: string, args: unknown[]) => void,
  after?: (name: string, result: unknown) => unknown,
): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = (t as Record<PropertyKey, unknown>)[prop];
      if (typeof value !== "function" || prop === "then" || typeof prop !== "string") return value;
      return (...args: unknown[]) => {
        before(prop, args);
        // Reflect.apply: an RPC stub's method answers any property, "apply" included.
        const result = Reflect.apply(value as Method, t, args);
        return after ? after(prop, result) : result;
      };
    },
  });
}

const D1_RUNS = new Set(["first", "all", "run", "raw"]);

function watchedStatement(s: D1PreparedStatement, w: Watcher): D1PreparedStatement {
  return intercept(
    s,
    (name, args) => {
      if (name === "bind") w.bind?.(args);
      if (D1_RUNS.has(name)) w.call("d1");
    },
    (name, r) => (name === "bind" ? watchedStatement(r as D1PreparedStatement, w) : r),
  );
}

/** A database, or a session of one (its statements and batches are watched the same way). */
function watchedDatabase<T extends object>(db: T, w: Watcher): T {
  return intercept(
    db,
    (name, args) => {
      if (name === "prepare" || name === "exec") w.prepare?.(String(args[0]));
      if (name === "batch" || name === "exec") w.call("d1");
    },
    (name, r) =>
      name === "prepare" ? watchedStatement(r as D1PreparedStatement, w) : name === "withSession" ? watchedDatabase(r as object, w) : r,
  );
}

/**
 * Every D1 binding of the Worker: its shards and the control database. A shard SHARDS names without a binding is left
 * missing, for shardBinding to refuse where that shard is used, not for every request of every tenant.
 */
export function withEachDatabase(env: Env, wrap: (d1: D1Database) => D1Database): Env {
  const wrapped: Record<string, D1Database> = { CONTROL: wrap(env.CONTROL) };
  const bindings = env as unknown as Record<string, D1Database | undefined>;
  for (const name of shardNames(env)) {
    const d1 = bindings[name];
    if (d1) wrapped[name] = wrap(d1);
  }
  return { ...env, ...wrapped };
}

export function watchedEnv(env: Env, w: Watcher): Env {
  const kv = intercept(env.CLAIMS, () => w.call("kv"));
  // Getting a stub is no call; each call on the stub is one, on every Durable Object namespace.
  const stubsOf = <T extends object>(ns: T): T =>
    intercept(
      ns,
      () => undefined,
      (name, r) => (name === "get" ? intercept(r as object, () => w.call("durableObjects")) : r),
    );
  const objects = {
    GROUP_COORDINATOR: stubsOf(env.GROUP_COORDINATOR),
    ...(env.CLAIMS_WRITER && { CLAIMS_WRITER: stubsOf(env.CLAIMS_WRITER) }),
    ...(env.RATE_LIMITER && { RATE_LIMITER: stubsOf(env.RATE_LIMITER) }),
  };
  const queue = env.WEBHOOKS && { WEBHOOKS: intercept(env.WEBHOOKS, () => w.call("queues")) };
  return { ...withEachDatabase(env, (d1) => watchedDatabase(d1, w)), CLAIMS: kv, ...objects, ...queue };
}
