// Every table of a shard that holds tenants' rows, with its primary key after tenant_id: what
// a move copies, what the move triggers (migration 0013) log, and what a cleanup deletes.
// test/shards.test.ts checks this list against the migrated schema.

export interface TenantTable {
  name: string;
  /** The primary key's columns after tenant_id, in key order (audit_log: its cursor alone). */
  key: readonly string[];
}

export const TENANT_TABLES: readonly TenantTable[] = [
  { name: "tenant_config", key: [] },
  { name: "groups", key: ["id"] },
  { name: "group_traits", key: ["group_id", "key"] },
  { name: "users", key: ["id"] },
  { name: "memberships", key: ["group_id", "user_id"] },
  { name: "group_edges", key: ["parent_id", "child_id"] },
  { name: "roles", key: ["id"] },
  { name: "group_roles", key: ["group_id", "role_id"] },
  { name: "user_roles", key: ["user_id", "role_id"] },
  { name: "group_rules", key: ["group_id"] },
  { name: "tracking_messages", key: ["message_id"] },
  { name: "api_keys", key: ["id"] },
  { name: "idempotency_keys", key: ["key"] },
  // Events before what names them: webhook deliveries' cursors are translated through the events' new ones.
  { name: "audit_log", key: ["cursor"] },
  { name: "event_horizons", key: [] },
  { name: "webhook_endpoints", key: ["id"] },
  { name: "webhook_deliveries", key: ["endpoint_id", "cursor"] },
];

/** The message a shard's triggers refuse a moving tenant's write with (core/shards/fence.ts). */
export const TENANT_MOVING = "edge-groups: tenant is moving between databases";
