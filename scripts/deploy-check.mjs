// npm run deploy:check: what `wrangler deploy` would upload, checked before anyone deploys.
// - the bundle (`wrangler deploy --dry-run` into a temporary folder) stays within its budget;
// - the deployment's vars do not configure auth halfway or ship the local dev secret.
// Secrets set with `wrangler secret put` are not visible here; the Worker itself answers
// 401 "auth is misconfigured" (and logs it) when those are set halfway.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { unstable_readConfig } from "wrangler";
import { wranglerDone } from "./wrangler.mjs";

/** Small bundles start fast; Cloudflare's own limit is 3 MB compressed (free) and 10 MB (paid). */
export const BUDGET = { bytes: 1_500_000, gzipBytes: 300_000 };

/** SHARDS read as the Worker reads it (core/shards/bindings.ts shardNames): no names at all means the one shard DB. */
function shardNames(shards) {
  const names = String(shards ?? "")
    .split(/[\s,]+/)
    .filter(Boolean);
  return names.length > 0 ? names : ["DB"];
}

/** What the configuration gets wrong that the Worker could only find out at run time. */
export function configProblems(config) {
  const problems = [];
  const vars = config.vars ?? {};
  if (vars.AUTH_DEV_SECRET !== undefined || vars.VENDOR_DEV_SECRET !== undefined) {
    problems.push("wrangler.toml [vars] sets a dev signing secret: those are for local runs (.dev.vars) only");
  }
  if (vars.WEBHOOKS_ALLOW_LOCAL_HTTP !== undefined) {
    problems.push(
      "wrangler.toml [vars] sets WEBHOOKS_ALLOW_LOCAL_HTTP: webhooks to loopback addresses are for local runs (.dev.vars) only",
    );
  }
  if (vars.AUTH_JWKS_URL !== undefined && (vars.AUTH_ISSUER === undefined || vars.AUTH_AUDIENCE === undefined)) {
    problems.push("wrangler.toml [vars] sets AUTH_JWKS_URL without AUTH_ISSUER and AUTH_AUDIENCE: every request would be 401");
  }
  const vendor = ["VENDOR_JWKS_URL", "VENDOR_ISSUER", "VENDOR_AUDIENCE"].filter((k) => vars[k] !== undefined);
  if (vendor.length > 0 && vendor.length < 3)
    problems.push(`vendor tokens configured halfway in [vars] (${vendor.join(", ")}): set all three or none`);
  // Each shard SHARDS names is a D1 binding with the shards' migrations: a name without one fails its tenants and the
  // placement of new ones at run time.
  const databases = new Map((config.d1_databases ?? []).map((d) => [d.binding, d]));
  for (const name of shardNames(vars.SHARDS)) {
    const d1 = databases.get(name);
    if (!d1) problems.push(`SHARDS names ${name}, which is no [[d1_databases]] binding: add its entry, or take it out of SHARDS`);
    else if (d1.migrations_dir !== "migrations")
      problems.push(
        `shard ${name} takes its migrations from ${d1.migrations_dir ?? "the default folder"}, not migrations/: every shard has one schema`,
      );
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = configProblems(unstable_readConfig({ config: "wrangler.toml" }));

  const out = mkdtempSync(join(tmpdir(), "edge-groups-deploy-check-"));
  try {
    await wranglerDone(["deploy", "--dry-run", "--outdir", out], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    const bundle = readFileSync(join(out, "index.js"));
    const gz = gzipSync(bundle, { level: 9 }).length;
    const kb = (n) => `${(n / 1000).toFixed(0)} KB`;
    console.log(`bundle: ${kb(bundle.length)} (budget ${kb(BUDGET.bytes)}), ${kb(gz)} gzipped (budget ${kb(BUDGET.gzipBytes)})`);
    if (bundle.length > BUDGET.bytes) problems.push(`the bundle is ${kb(bundle.length)}, over its ${kb(BUDGET.bytes)} budget`);
    if (gz > BUDGET.gzipBytes) problems.push(`the bundle is ${kb(gz)} gzipped, over its ${kb(BUDGET.gzipBytes)} budget`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  for (const p of problems) console.error(`deploy:check: ${p}`);
  console.log(problems.length ? `deploy:check failed (${problems.length})` : "deploy:check passed");
  process.exit(problems.length ? 1 : 0);
}
