// Starts the Worker with wrangler dev on 127.0.0.1 with fresh local state, for benchmarks.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { ensureDevVars } from "../scripts/dev-vars.mjs";
import { wrangler, wranglerDone } from "../scripts/wrangler.mjs";

export async function startServer(port = 8790 + Math.floor(Math.random() * 100)) {
  const state = mkdtempSync(join(tmpdir(), "edge-groups-bench-"));
  const secret = ensureDevVars().AUTH_DEV_SECRET;
  const quiet = { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } };
  await wranglerDone(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], quiet);
  const proc = wrangler(["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--log-level", "error", "--show-interactive-dev-session=false"], quiet);
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
