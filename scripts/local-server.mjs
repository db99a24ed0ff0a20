// Starts the Worker with wrangler dev on 127.0.0.1 with fresh local state, for benchmarks
// and end-to-end tests with clients outside the Worker.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { ensureDevVars } from "./dev-vars.mjs";
import { wrangler, wranglerDone } from "./wrangler.mjs";

/**
 * seedSql: a SQL file run against the fresh local D1 before the server starts, so large
 * data sets are made set-based (recursive CTEs), not one request per row.
 */
export async function startServer({ port = 8790 + Math.floor(Math.random() * 100), seedSql } = {}) {
  const state = mkdtempSync(join(tmpdir(), "edge-groups-bench-"));
  const secret = ensureDevVars().AUTH_DEV_SECRET;
  const quiet = { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } };
  await wranglerDone(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], quiet);
  if (seedSql) {
    const file = join(state, "seed.sql");
    writeFileSync(file, seedSql);
    await wranglerDone(["d1", "execute", "DB", "--local", "--persist-to", state, "--file", file, "--yes"], quiet);
  }
  const proc = wrangler(["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--log-level", process.env.EDGE_GROUPS_LOG ?? "error", "--show-interactive-dev-session=false"], quiet);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("wrangler dev did not start within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  const token = (tenant, scope = "admin") =>
    sign({ tenant_id: tenant, sub: "bench", scope, exp: Math.floor(Date.now() / 1000) + 3600 }, secret, "HS256");
  return {
    base,
    token,
    stop() {
      proc.kill("SIGTERM");
      rmSync(state, { recursive: true, force: true });
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
