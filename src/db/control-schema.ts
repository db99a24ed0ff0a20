// The control database (binding CONTROL): where each tenant's rows live. It is small (a row
// per tenant, per API key and per move) and only ever read by tenant id or key hash.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Tenant → shard (a D1 binding named in SHARDS). A tenant without a row has not been placed
// yet; the first request that needs its database places it (core/shards/placement.ts).
export const tenantShards = sqliteTable(
  "tenant_shards",
  {
    tenantId: text("tenant_id").primaryKey(),
    shard: text("shard").notNull(),
    placedAt: integer("placed_at").notNull(),
    /** "auto" (the smallest shard at the time) or the vendor subject that chose it. */
    placedBy: text("placed_by").notNull(),
  },
  (t) => [index("tenant_shards_by_shard").on(t.shard)],
);

// An API key names no tenant, so the key's hash leads to its tenant here, and the tenant to
// its shard, where the key itself (scopes, expiry, revocation) is kept.
export const apiKeyTenants = sqliteTable("api_key_tenants", {
  secretHash: text("secret_hash").primaryKey(),
  tenantId: text("tenant_id").notNull(),
});

// A tenant's move to another shard (core/shards/move.ts): one row per tenant while it
// runs, kept after it ends (state done or rolled_back) until the next move replaces it.
export const tenantMoves = sqliteTable("tenant_moves", {
  tenantId: text("tenant_id").primaryKey(),
  fromShard: text("from_shard").notNull(),
  toShard: text("to_shard").notNull(),
  /** copying → fenced → switched → settled → done; or rolled_back. */
  state: text("state").notNull(),
  /** Where the copy has got to: JSON {table, after} (the last primary key copied). */
  progress: text("progress").notNull().default("{}"),
  /** Rows copied so far, and rows the catch-up re-copied. */
  copied: integer("copied").notNull().default(0),
  caughtUp: integer("caught_up").notNull().default(0),
  requestedBy: text("requested_by").notNull(),
  startedAt: integer("started_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  /** When the state last changed: the fence's and the settling wait's clock. */
  stateAt: integer("state_at").notNull(),
  finishedAt: integer("finished_at"),
  error: text("error"),
});
