// Builds the console (console/) into dist/console-assets, the Worker's static assets:
// type-checks it, bundles it with Vite, and writes the security headers for /console/*.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { build } from "vite";

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "console"], { stdio: "inherit" });
await build({ configFile: "console/vite.config.ts", logLevel: "warn" });
mkdirSync("dist/console-assets", { recursive: true });
// A strict policy: only this origin's files, no inline script or style, no framing.
writeFileSync(
  "dist/console-assets/_headers",
  `/console/*
  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer
`,
);
