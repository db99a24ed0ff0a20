// npm run deploy:check's reading of wrangler.toml (scripts/deploy-check.mjs configProblems): the project's own
// configuration passes; a shard SHARDS names without its database, a dev secret or auth set halfway in [vars] are
// refused before a deploy.
import assert from "node:assert/strict";
import { test } from "node:test";
import { unstable_readConfig } from "wrangler";
import { configProblems } from "../scripts/deploy-check.mjs";

const config = unstable_readConfig({ config: "wrangler.toml" });

test("the project's wrangler.toml has nothing to refuse", () => {
  assert.deepEqual(configProblems(config), []);
});

test("a shard in SHARDS without a [[d1_databases]] binding, or with other migrations, is refused", () => {
  const added = { ...config, vars: { ...config.vars, SHARDS: `${config.vars.SHARDS} DB_4` } };
  assert.deepEqual(configProblems(added), [
    "SHARDS names DB_4, which is no [[d1_databases]] binding: add its entry, or take it out of SHARDS",
  ]);
  const elsewhere = {
    ...config,
    d1_databases: config.d1_databases.map((d) => (d.binding === "DB_2" ? { ...d, migrations_dir: "migrations-control" } : d)),
  };
  assert.deepEqual(configProblems(elsewhere), [
    "shard DB_2 takes its migrations from migrations-control, not migrations/: every shard has one schema",
  ]);
});

test("without SHARDS (or with an empty one) the one shard is DB, which must be bound", () => {
  const { SHARDS: _, ...vars } = config.vars;
  const onlyDb = config.d1_databases.filter((d) => d.binding === "DB" || d.binding === "CONTROL");
  for (const shards of [undefined, " "]) {
    const single = { ...config, vars: shards === undefined ? vars : { ...vars, SHARDS: shards }, d1_databases: onlyDb };
    assert.deepEqual(configProblems(single), []);
    assert.deepEqual(configProblems({ ...single, d1_databases: onlyDb.filter((d) => d.binding !== "DB") }), [
      "SHARDS names DB, which is no [[d1_databases]] binding: add its entry, or take it out of SHARDS",
    ]);
  }
});

test("a dev secret, local webhooks or auth set halfway in [vars] is refused", () => {
  const withVars = (extra) => configProblems({ ...config, vars: { ...config.vars, ...extra } });
  assert.deepEqual(withVars({ AUTH_DEV_SECRET: "x".repeat(32) }), [
    "wrangler.toml [vars] sets a dev signing secret: those are for local runs (.dev.vars) only",
  ]);
  assert.deepEqual(withVars({ VENDOR_DEV_SECRET: "x".repeat(32) }), [
    "wrangler.toml [vars] sets a dev signing secret: those are for local runs (.dev.vars) only",
  ]);
  assert.deepEqual(withVars({ WEBHOOKS_ALLOW_LOCAL_HTTP: "true" }), [
    "wrangler.toml [vars] sets WEBHOOKS_ALLOW_LOCAL_HTTP: webhooks to loopback addresses are for local runs (.dev.vars) only",
  ]);
  assert.deepEqual(withVars({ AUTH_JWKS_URL: "https://idp.example/jwks.json", AUTH_ISSUER: "https://idp.example/" }), [
    "wrangler.toml [vars] sets AUTH_JWKS_URL without AUTH_ISSUER and AUTH_AUDIENCE: every request would be 401",
  ]);
  assert.deepEqual(
    withVars({ AUTH_JWKS_URL: "https://idp.example/jwks.json", AUTH_ISSUER: "https://idp.example/", AUTH_AUDIENCE: "edge-groups" }),
    [],
  );
  assert.deepEqual(withVars({ VENDOR_ISSUER: "https://vendor.example/" }), [
    "vendor tokens configured halfway in [vars] (VENDOR_ISSUER): set all three or none",
  ]);
});
