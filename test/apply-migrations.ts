import { applyD1Migrations, env } from "cloudflare:test";
import { everyShard } from "../src/core/shards/bindings";

// Every shard gets the shard migrations; the control database its own.
for (const shard of everyShard(env)) await applyD1Migrations(shard.d1, env.TEST_MIGRATIONS);
await applyD1Migrations(env.CONTROL, env.TEST_CONTROL_MIGRATIONS);
