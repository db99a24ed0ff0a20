// Cloudflare's production limits that the local runtime does not enforce, enforced for the
// workerd suite: the pool's entry (entry.ts) gives the Worker, per request, and each Durable
// Object, per alarm run, bindings wrapped here. A breach fails the way production does:
// D1 refuses the statement, the invocation's next subrequest throws.
import type { Env } from "../../src/env";
import { watchedEnv } from "../../src/http/watched-bindings";

export const PLATFORM_LIMITS = {
  /** D1: bound values per statement. */
  d1BoundValues: 100,
  /** D1: bytes of SQL per statement. */
  d1StatementBytes: 100_000,
  /** D1: bytes of one string or blob value. */
  d1ValueBytes: 2_000_000,
  /** Subrequests (D1, KV, Durable Object calls) per invocation. */
  subrequests: 1_000,
} as const;

/** The subrequests of one invocation; `counting` is off outside one (a Durable Object between alarms). */
export interface Invocation {
  subrequests: number;
  counting: boolean;
  /** The most any invocation made, for the tests that report it. */
  peak: { value: number };
}

export const newInvocation = (peak = { value: 0 }): Invocation => ({ subrequests: 0, counting: true, peak });

const bytes = (s: string) => new TextEncoder().encode(s).length;

function subrequest(inv: Invocation) {
  if (!inv.counting) return;
  inv.subrequests += 1;
  inv.peak.value = Math.max(inv.peak.value, inv.subrequests);
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

/** The bindings of one invocation, refusing what production refuses. */
export function limitedEnv(env: Env, inv: Invocation): Env {
  return watchedEnv(env, { call: () => subrequest(inv), prepare: checkStatement, bind: checkValues });
}
