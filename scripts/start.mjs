// npm start: local D1/KV/Durable Object state, migrations applied, the Worker served.
// PORT (default 8787) and EDGE_GROUPS_STATE (default .wrangler/state) change where.
import { ensureDevVars } from "./dev-vars.mjs";
import { wrangler, wranglerDone } from "./wrangler.mjs";

const port = process.env.PORT ?? "8787";
const state = process.env.EDGE_GROUPS_STATE ?? ".wrangler/state";

ensureDevVars();
// CI=true keeps wrangler from asking for confirmation before applying migrations.
await wranglerDone(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
  env: { ...process.env, CI: "true" },
});
console.error(`\nedge-groups: serving on http://127.0.0.1:${port} (state in ${state})`);
console.error(`mint a dev token:  npm run -s token -- --tenant acme --sub alice --scope "groups:read groups:write"\n`);
const dev = wrangler(["dev", "--ip", "127.0.0.1", "--port", port, "--persist-to", state, ...process.argv.slice(2)], {
  env: { WRANGLER_SEND_METRICS: "false", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
