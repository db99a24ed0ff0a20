// Runs the project's pinned wrangler. Its bin/ launcher refuses Node 20 by version
// alone; the CLI it launches runs here, so call that directly.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const cli = join(dirname(require.resolve("wrangler/package.json")), "wrangler-dist", "cli.js");

export function wrangler(args, options = {}) {
  return spawn(process.execPath, ["--no-warnings", cli, ...args], { stdio: "inherit", ...options });
}

export function wranglerDone(args, options = {}) {
  return new Promise((resolve, reject) => {
    wrangler(args, options).on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler ${args[0]} exited with ${code}`))));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  wrangler(process.argv.slice(2)).on("exit", (code) => process.exit(code ?? 1));
}
