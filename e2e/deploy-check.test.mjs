// npm run deploy:check's reading of wrangler.toml (scripts/deploy-check.mjs configProblems): the project's own
// configuration passes; a shard SHARDS names without its database is refused before a deploy.
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
