// npm run stress [-- --server wrangler-dev] [--rounds 5] [--calls 25]
// The stress test's burst (e2e/load.mjs) against npm start's local server (default) or the
// pinned `wrangler dev`, on fresh state: per round, how many calls failed and whether the
// server is still up; then whether every acknowledged write is there once. Run it against
// wrangler dev to tell when upstream fixes its crash under concurrent writes (workers-sdk #14916).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { apiKey, burst, ledger, makeGroups, verify } from "../e2e/load.mjs";
import { ensureDevVars } from "./dev-vars.mjs";
import { launch, prepareState } from "./local-server.mjs";
import { groupAlive, stopGroup } from "./process-group.mjs";
import { wrangler } from "./wrangler.mjs";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "local" },
    rounds: { type: "string", default: "5" },
    calls: { type: "string", default: "25" },
    port: { type: "string", default: String(8600 + Math.floor(Math.random() * 100)) },
  },
});
const port = Number(values.port);
const state = mkdtempSync(join(tmpdir(), "edge-groups-stress-"));
await prepareState(state);

async function wranglerDev() {
  // In a process group of its own (detached), so stopping it stops its workerd too.
  const child = wrangler(
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      state,
      "--log-level",
      "error",
      "--show-interactive-dev-session=false",
    ],
    { detached: true, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } },
  );
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base: `http://127.0.0.1:${port}`, pgid: child.pid, alive: () => groupAlive(child.pid), stop: () => stopGroup(child.pid) };
}

const server = values.server === "wrangler-dev" ? await wranglerDev() : await launch({ port, state });
const secret = ensureDevVars().AUTH_DEV_SECRET;
const token = await sign(
  { tenant_id: "stress", sub: "stress", scope: "admin", exp: Math.floor(Date.now() / 1000) + 3600 },
  secret,
  "HS256",
);
/** Up: /healthz answers within 30 s (a busy single-threaded local runtime can be slow, not dead). */
const up = async () => {
  const t = performance.now();
  try {
    const ok = (await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(30_000) })).ok;
    const ms = performance.now() - t;
    if (ms > 1_000) console.log(`  /healthz took ${ms.toFixed(0)} ms`);
    return ok;
  } catch (e) {
    console.log(`  /healthz: ${e.cause?.code ?? e.name} after ${(performance.now() - t).toFixed(0)} ms`);
    return false;
  }
};
let verdict = 0;
try {
  const writeKey = await apiKey(server.base, token, ["group_api"]);
  const addGroups = await makeGroups(server.base, token, 20);
  const l = ledger();
  console.log(`${values.server}: ${values.rounds} rounds of ${values.calls} parallel 100-event batches, 20 adds and 4 reads`);
  for (let round = 0; round < Number(values.rounds); round++) {
    const before = l.failures.length;
    const t = performance.now();
    await burst(server.base, { writeKey, token, addGroups, round, calls: Number(values.calls), l });
    const failed = l.failures.length - before;
    const alive = await up();
    console.log(
      `round ${round}: ${failed} failed calls in ${(performance.now() - t).toFixed(0)} ms; server ${alive ? "up" : "DOWN"}${failed ? ` (${[...new Set(l.failures.slice(before).map((f) => f.slice(0, 60)))].slice(0, 3).join("; ")})` : ""}`,
    );
    if (!alive) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  if (l.failures.length === 0) {
    const checked = await verify(server.base, token, l, addGroups, { exact: true });
    console.log(`every acknowledged write present once: ${checked.events} events, ${checked.claimsChecked} claims equal D1`);
  } else {
    console.log(`${l.failures.length} calls failed in all`);
    verdict = 1;
  }
} catch (e) {
  console.log(`the run stopped: ${e.message} (${e.cause?.message ?? "no cause"}); server ${(await up()) ? "up" : "DOWN"}`);
  verdict = 1;
} finally {
  await server.stop();
  rmSync(state, { recursive: true, force: true });
}
process.exit(verdict);
