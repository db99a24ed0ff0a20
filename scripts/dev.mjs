// npm run dev: `wrangler dev` (live reload) on the same local state as npm start, with the
// migrations applied. Fine for everyday use; under concurrent writes the pinned wrangler
// can crash (README, "Local server"), so load tests, benchmarks and SDK flushes use npm start.
import { ensureDevVars } from "./dev-vars.mjs";
import { prepareState } from "./local-server.mjs";
import { wrangler } from "./wrangler.mjs";

const port = process.env.PORT ?? "8787";
const state = process.env.EDGE_GROUPS_STATE ?? ".wrangler/state";

ensureDevVars();
await prepareState(state, { stdio: ["ignore", "inherit", "inherit"] });
console.error(`\nedge-groups: wrangler dev on http://127.0.0.1:${port} (state in ${state})\n`);
const dev = wrangler(["dev", "--ip", "127.0.0.1", "--port", port, "--persist-to", state, ...process.argv.slice(2)], {
  env: { WRANGLER_SEND_METRICS: "false", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
