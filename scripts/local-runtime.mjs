// The local server: the Worker bundled by wrangler, run by Miniflare's API on the same
// on-disk state as `wrangler dev --persist-to` (<state>/v3/{d1,kv,do}), with a plain
// Node http server in front that hands each request to mf.dispatchFetch.
//
// Why not `wrangler dev`: the pinned wrangler (4.124, the version vitest-pool-workers 0.23
// needs) dies under concurrent Durable Object writes (workers-sdk #14916), and Miniflare's
// own listening socket resets kept-alive connections after bursts of large requests. Node's
// server in front of dispatchFetch held every burst we measured (README, "Local server").
//
//   node scripts/local-runtime.mjs --port 8787 --state .wrangler/state
// Serves until SIGINT/SIGTERM, then disposes Miniflare (and so its workerd).

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { wranglerDone } from "./wrangler.mjs";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);

/**
 * EDGE_GROUPS_LIMITS=on: serve the Worker behind the test suite's limits layer
 * (test/limits/entry.ts), which refuses what Cloudflare refuses in production and reports
 * the most subrequests one invocation made at GET /__limits (for npm run bench).
 */
const LIMITS = process.env.EDGE_GROUPS_LIMITS === "on";
/** The limits layer tells a Durable Object's calls apart with AsyncLocalStorage; the product itself needs no flag. */
const LIMITS_FLAGS = ["nodejs_als"];

/** The Worker as wrangler would deploy it (one ES module), in a temporary folder. */
async function bundle() {
  const out = mkdtempSync(join(tmpdir(), "edge-groups-bundle-"));
  await wranglerDone(
    ["deploy", "--dry-run", "--outdir", out, ...(LIMITS ? ["test/limits/entry.ts", "--compatibility-flags", ...LIMITS_FLAGS] : [])],
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
  return out;
}

/** Local scheduled events, as wrangler dev serves them: GET /cdn-cgi/handler/scheduled?cron=... */
async function scheduled(mf, url) {
  const worker = await mf.getWorker();
  const result = await worker.scheduled({ cron: url.searchParams.get("cron") ?? "17 3 * * *", scheduledTime: new Date() });
  return new Response(JSON.stringify(result), { headers: { "content-type": "application/json" } });
}

export async function startRuntime({ port = 8787, host = "127.0.0.1", state = ".wrangler/state", logLevel = "warn" } = {}) {
  const out = await bundle();
  // Bindings, .dev.vars and assets from wrangler.toml; the module rules are for unbundled
  // sources, and the bundle is one module.
  const { modulesRules: _unbundled, ...workerOptions } = unstable_getMiniflareWorkerOptions("wrangler.toml").workerOptions;
  // EDGE_GROUPS_REQUEST_LOG=off: no line per request (benchmarks and tests send thousands).
  if (process.env.EDGE_GROUPS_REQUEST_LOG)
    workerOptions.bindings = { ...workerOptions.bindings, REQUEST_LOG: process.env.EDGE_GROUPS_REQUEST_LOG };
  // EDGE_GROUPS_VARS: a JSON object of settings over wrangler.toml's [vars] (benchmarks: SHARDS, vendor tokens).
  if (process.env.EDGE_GROUPS_VARS) workerOptions.bindings = { ...workerOptions.bindings, ...JSON.parse(process.env.EDGE_GROUPS_VARS) };
  // With EDGE_GROUPS_LIMITS=on: every D1 call waits this many ms, as production's round trip does.
  // With EDGE_GROUPS_LIMITS=on and EDGE_GROUPS_EVENTS=off: changes write no event (the events-cost benchmark only).
  if (LIMITS) workerOptions.compatibilityFlags = [...(workerOptions.compatibilityFlags ?? []), ...LIMITS_FLAGS];
  if (LIMITS && process.env.EDGE_GROUPS_EVENTS === "off") workerOptions.bindings = { ...workerOptions.bindings, EVENTS_OFF: "on" };
  if (LIMITS && process.env.EDGE_GROUPS_D1_DELAY_MS)
    workerOptions.bindings = { ...workerOptions.bindings, D1_DELAY_MS: process.env.EDGE_GROUPS_D1_DELAY_MS };
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...workerOptions,
      name: "edge-groups",
      modules: true,
      scriptPath: join(out, LIMITS ? "entry.js" : "index.js"),
      modulesRoot: out,
      // The same layout as `wrangler dev --persist-to <state>`, so either serves the same data.
      resourcePersistencePath: join(resolve(state), "v3"),
      host: "127.0.0.1",
      port: 0,
      ...(process.env.EDGE_GROUPS_INSPECT ? { inspectorPort: Number(process.env.EDGE_GROUPS_INSPECT) } : {}),
      cf: false, // no network here: a placeholder request.cf, not a fetch of Cloudflare's
      log: new Log(LogLevel[logLevel.toUpperCase()] ?? LogLevel.WARN),
    }),
  );
  await mf.ready;

  const server = createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const url = new URL(req.url ?? "/", `http://${req.headers.host ?? `${host}:${port}`}`);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
      }
      // dispatchFetch (undici) would ask for gzip on every request whatever the client asked,
      // and then inflate the answer itself: Miniflare would gzip every JSON answer in workerd
      // only for this process to undo it. This server answers uncompressed, so it asks for that.
      headers.set("accept-encoding", "identity");
      const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
      const response =
        url.pathname === "/cdn-cgi/handler/scheduled"
          ? await scheduled(mf, url)
          : await mf.dispatchFetch(url, { method: req.method, headers, body, redirect: "manual" });
      const out = Buffer.from(await response.arrayBuffer());
      const head = {};
      for (const [k, v] of response.headers) {
        if (HOP_BY_HOP.has(k) || k.startsWith("mf-")) continue; // mf-*: Miniflare's own notes
        head[k] = k === "set-cookie" ? response.headers.getSetCookie() : v;
      }
      res.writeHead(response.status, head).end(out);
    } catch (e) {
      console.error("local server: a request failed before the Worker answered", e);
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("local server error");
    }
  });
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise((ok, fail) => {
      server.once("error", fail);
      server.listen(port, host, ok);
    });
  } catch (e) {
    await mf.dispose();
    rmSync(out, { recursive: true, force: true });
    throw e;
  }

  let stopping;
  return {
    base: `http://${host}:${server.address().port}`,
    stop() {
      stopping ??= (async () => {
        await new Promise((r) => server.close(r));
        server.closeAllConnections();
        await mf.dispose();
        rmSync(out, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.PORT ?? "8787" },
      state: { type: "string", default: process.env.EDGE_GROUPS_STATE ?? ".wrangler/state" },
      "log-level": { type: "string", default: process.env.EDGE_GROUPS_LOG ?? "warn" },
    },
  });
  try {
    const runtime = await startRuntime({ port: Number(values.port), state: values.state, logLevel: values["log-level"] });
    console.error(`edge-groups: local server ready on ${runtime.base}`);
    for (const signal of ["SIGINT", "SIGTERM"]) {
      process.once(signal, async () => {
        await runtime.stop();
        process.exit(0);
      });
    }
  } catch (e) {
    console.error(`edge-groups: the local server did not start: ${e.message}`);
    process.exit(1);
  }
}
