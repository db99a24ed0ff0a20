// Builds the console (console/) into dist/console-assets, the Worker's static assets:
// type-checks it, bundles it with Vite, and writes the security headers for /console/*.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { build } from "vite";

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "console"], { stdio: "inherit" });
await build({ configFile: "console/vite.config.ts", logLevel: "warn" });
mkdirSync("dist/console-assets", { recursive: true });
// The console holds admin credentials: a strict policy (only this origin's files, no inline
// script or style, no framing) and the headers Hono's secureHeaders sends on /docs. The assets
// are served before the Worker runs, so they are set here, in the assets' _headers file.
const headers = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Origin-Agent-Cluster": "?1",
  "Referrer-Policy": "no-referrer",
  "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "X-DNS-Prefetch-Control": "off",
  "X-Download-Options": "noopen",
  "X-Frame-Options": "DENY",
  "X-Permitted-Cross-Domain-Policies": "none",
  "X-XSS-Protection": "0",
};
writeFileSync(
  "dist/console-assets/_headers",
  `/console/*\n${Object.entries(headers)
    .map(([k, v]) => `  ${k}: ${v}`)
    .join("\n")}\n`,
);
