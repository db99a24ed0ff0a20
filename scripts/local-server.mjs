// The local server (scripts/local-runtime.mjs) in a process group of its own, on local
// state with the migrations applied: for npm start, benchmarks and end-to-end tests.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { ensureDevVars } from "./dev-vars.mjs";
import { groupAlive, signalGroup, spawnGroup, stopGroup } from "./process-group.mjs";
import { wranglerDone } from "./wrangler.mjs";

const RUNTIME = new URL("./local-runtime.mjs", import.meta.url).pathname;
const quiet = { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } };

/** The shards' bindings, as wrangler.toml's SHARDS lists them. */
export function shardBindings() {
  const toml = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");
  return (toml.match(/^SHARDS\s*=\s*"([^"]*)"/m)?.[1] ?? "DB").split(/[\s,]+/).filter(Boolean);
}

/**
 * Apply the migrations to every local shard and to the control database in this state folder
 * (and run seedSql, set-based, once, on the first shard: its tenants are placed there when first seen).
 */
export async function prepareState(state, { seedSql, stdio = quiet.stdio } = {}) {
  for (const binding of [...shardBindings(), "CONTROL"])
    await wranglerDone(["d1", "migrations", "apply", binding, "--local", "--persist-to", state], { ...quiet, stdio });
  if (seedSql) {
    const file = join(state, "seed.sql");
    writeFileSync(file, seedSql);
    await wranglerDone(["d1", "execute", "DB", "--local", "--persist-to", state, "--file", file, "--yes"], quiet);
  }
}

/**
 * Start the runtime on this state and wait until it answers /healthz. On a failed start,
 * everything it started is stopped before this rejects.
 */
export async function launch({
  port,
  state,
  logLevel = process.env.EDGE_GROUPS_LOG ?? "error",
  stdio = ["ignore", "inherit", "inherit"],
  timeoutMs = 60_000,
}) {
  const child = spawnGroup(process.execPath, [RUNTIME, "--port", String(port), "--state", state, "--log-level", logLevel], { stdio });
  const pgid = child.pid;
  let exited = null;
  const exit = new Promise((r) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      r(exited);
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok) break;
    } catch {}
    if (exited || Date.now() > deadline) {
      await stopGroup(pgid, 2_000);
      const why = exited ? `exited while starting (${exited.code ?? exited.signal})` : `did not answer within ${timeoutMs / 1000} s`;
      throw new Error(`the local server ${why}; its processes (group ${pgid}) are stopped`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, pgid, exit, stop: () => stopGroup(pgid), kill: () => signalGroup(pgid, "SIGKILL"), alive: () => groupAlive(pgid) };
}

/**
 * A local server for a benchmark or an end-to-end test: fresh state (unless given),
 * migrations applied, seedSql run before it starts. stop() ends its whole process group
 * and removes the fresh state; kill() is kill -9 of the group, and restart() starts it
 * again on the same state.
 */
export async function startServer({ port = 8790 + Math.floor(Math.random() * 100), seedSql, state } = {}) {
  const fresh = !state;
  state ??= mkdtempSync(join(tmpdir(), "edge-groups-local-"));
  const secret = ensureDevVars().AUTH_DEV_SECRET;
  await prepareState(state, { seedSql });
  process.env.EDGE_GROUPS_REQUEST_LOG ??= "off"; // thousands of requests: their lines would drown the output
  let running = await launch({ port, state });
  const token = (tenant, scope = "admin") =>
    sign({ tenant_id: tenant, sub: "bench", scope, exp: Math.floor(Date.now() / 1000) + 3600 }, secret, "HS256");
  return {
    base: running.base,
    state,
    token,
    get pgid() {
      return running.pgid;
    },
    alive: () => running.alive(),
    kill: async () => {
      running.kill();
      await running.exit;
      while (running.alive()) await new Promise((r) => setTimeout(r, 50));
    },
    restart: async () => {
      await running.stop();
      running = await launch({ port, state });
    },
    async stop() {
      await running.stop();
      if (fresh) rmSync(state, { recursive: true, force: true });
    },
  };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median latency of n sequential GETs of the do-nothing route: the floor every case is divided by. */
export async function floorMs(base, n = 200) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch(`${base}/healthz`)).arrayBuffer();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** Median and 99th percentile of n sequential GETs of a path. */
export async function latency(base, path, headers, n = 100) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(`${base}${path}`, { headers });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    times.push(performance.now() - t);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(n / 2)], p99: sorted[Math.min(n - 1, Math.floor(n * 0.99))] };
}

/**
 * Wait until no claim these groups' changes queued is left to refresh or write: GET
 * /v1/groups/{id}/claims-status, one group at a time (each answer also counts the tenant's
 * unwritten claims, so polling many groups at once only loads the server). Returns how long it took.
 */
export async function claimsSettled(base, headers, groupIds, timeoutMs = 60_000) {
  const started = Date.now();
  for (;;) {
    let waiting;
    for (const g of groupIds) {
      const res = await fetch(`${base}/v1/groups/${encodeURIComponent(g)}/claims-status`, { headers, signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`claims-status of ${g}: ${res.status}`);
      const pending = (await res.json()).result.pending_refreshes;
      if (pending > 0) {
        waiting = `${g}: ${pending}`;
        break;
      }
    }
    if (!waiting) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`claims still pending after ${timeoutMs} ms (${waiting})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
