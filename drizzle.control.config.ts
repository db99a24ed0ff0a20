import { defineConfig } from "drizzle-kit";

// The control database (tenant → shard directory): its own schema and migrations.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/control-schema.ts",
  out: "./migrations-control",
});
