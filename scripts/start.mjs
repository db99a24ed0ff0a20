// npm start: local D1/KV/Durable Object state, migrations applied, the Worker served by
// the local server (scripts/local-runtime.mjs) in a process group of its own. If that
// server dies for a reason outside the project, it is started again on the same state,
// at most MAX_RESTARTS times in RESTART_WINDOW_MS. Ctrl-C stops the whole group.
// PORT (default 8787) and EDGE_GROUPS_STATE (default .wrangler/state) change where.
import { ensureDevVars } from "./dev-vars.mjs";
import { launch, prepareState } from "./local-server.mjs";

const port = Number(process.env.PORT ?? "8787");
const state = process.env.EDGE_GROUPS_STATE ?? ".wrangler/state";
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 10 * 60_000;
const say = (line) => console.error(`edge-groups: ${line}`);

ensureDevVars();
await prepareState(state, { stdio: ["ignore", "inherit", "inherit"] });

let running;
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await running?.stop();
    process.exit(0);
  });
}

const restarts = [];
for (let first = true; ; first = false) {
  try {
    running = await launch({ port, state, logLevel: process.env.EDGE_GROUPS_LOG ?? "warn" });
  } catch (e) {
    say(`the local server did not start: ${e.message}`);
    process.exit(1);
  }
  if (first) {
    // The group named is the server's own: killing it is a crash, which is restarted; stopping goes through this process.
    say(`serving on ${running.base} (state in ${state}; process group ${running.pgid}); stop with Ctrl-C or kill ${process.pid}`);
    say(`mint a dev token:  npm run -s token -- --tenant acme --sub alice --scope "groups:read groups:write"`);
  } else {
    say(`serving again on ${running.base} (process group ${running.pgid})`);
  }
  const { code, signal } = await running.exit;
  if (stopping) break;
  await running.stop(); // whatever the dead server left in its group
  const now = Date.now();
  restarts.push(now);
  while (restarts[0] < now - RESTART_WINDOW_MS) restarts.shift();
  if (restarts.length > MAX_RESTARTS) {
    say(`the local server stopped (${code ?? signal}) ${restarts.length} times in ${RESTART_WINDOW_MS / 60_000} minutes; giving up`);
    process.exit(1);
  }
  say(
    `the local server stopped (${code ?? signal}); restarting it on the same state (${restarts.length} of ${MAX_RESTARTS} in ${RESTART_WINDOW_MS / 60_000} minutes)`,
  );
}
