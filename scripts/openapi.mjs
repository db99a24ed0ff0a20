// npm run openapi: writes openapi.json (the document the Worker serves at /openapi.json, got
// from the local server) and generates console/src/api-types.ts from it (openapi-typescript).
// test/openapi.test.ts fails when the served document and openapi.json differ, and the
// console compiles against the generated types: a drift between spec and server breaks both.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { startServer } from "./local-server.mjs";

const server = await startServer();
try {
  const doc = await (await fetch(`${server.base}/openapi.json`)).json();
  writeFileSync("openapi.json", `${JSON.stringify(doc, null, 2)}\n`);
} finally {
  await server.stop();
}
execFileSync(process.execPath, ["node_modules/openapi-typescript/bin/cli.js", "openapi.json", "-o", "console/src/api-types.ts"], {
  stdio: "inherit",
});
