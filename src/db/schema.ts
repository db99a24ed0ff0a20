// The one description of the tables. Every primary key starts with tenant_id, so
// tenant isolation is part of every index a query can use.
// Times are epoch milliseconds; JSON columns hold text.

import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, sqliteView, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const groups = sqliteTable(
  "groups",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    // Lower-cased name: names are unique per tenant case-insensitively, and paging
    // and prefix search walk this key.
    nameKey: text("name_key").notNull(),
    description: text("description").notNull().default(""),
    type: text("type").notNull().default("Group"),
    customData: text("custom_data").notNull().default("{}"),
    externalId: text("external_id"),
    color: text("color"),
    welcomeMessage: text("welcome_message"),
    memberCount: integer("member_count").notNull().default(0),
    // Distinct users in the group and every group below it, remembered after a read; set
    // to null (and aggVersion bumped) by every change under the group (core/hierarchy/subtree-counts.ts).
    userCountCache: integer("user_count_cache"),
    aggVersion: integer("agg_version").notNull().default(0),
    version: integer("version").notNull().default(1),
    createdBy: text("created_by"),
    // A reconcile of the group's rule that a request owes (its rule was set or dropped) and has
    // not finished: an owedToken (core/rules/owed.ts); the per-minute cron finishes what a request cut off left.
    ruleOwed: integer("rule_owed"),
    // How far the cron's reconcile of that owed rule got (the last user id it walked), so the next run goes on from
    // there instead of starting over; null when it has not started. A new mark starts it over.
    ruleOwedAfter: text("rule_owed_after"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("groups_name_key").on(t.tenantId, t.nameKey),
    index("groups_external_id").on(t.tenantId, t.externalId),
    index("groups_rule_owed").on(t.ruleOwed).where(sql`rule_owed IS NOT NULL`),
  ],
);

// Traits from analytics group calls, merged per key by event time.
export const groupTraits = sqliteTable(
  "group_traits",
  {
    tenantId: text("tenant_id").notNull(),
    groupId: text("group_id").notNull(),
    key: text("key").notNull(),
    value: text("value").notNull(),
    eventAt: integer("event_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.groupId, t.key] })],
);

export const users = sqliteTable(
  "users",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    email: text("email"),
    emailKey: text("email_key"),
    phoneNumber: text("phone_number"),
    name: text("name"),
    givenName: text("given_name"),
    familyName: text("family_name"),
    picture: text("picture"),
    customData: text("custom_data").notNull().default("{}"),
    userName: text("user_name"),
    userNameKey: text("user_name_key"),
    externalId: text("external_id"),
    // The SCIM attributes an identity provider set that have no column of their own (addresses, title, ...).
    scimAttributes: text("scim_attributes"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    version: integer("version").notNull().default(1),
    // The tenant's rules evaluated for this profile, owed by the request that changed it and not
    // finished: an owedToken (core/rules/owed.ts); the per-minute cron finishes what a request cut off left.
    rulesOwed: integer("rules_owed"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("users_email_key").on(t.tenantId, t.emailKey),
    uniqueIndex("users_phone_number").on(t.tenantId, t.phoneNumber),
    uniqueIndex("users_user_name_key").on(t.tenantId, t.userNameKey),
    index("users_rules_owed").on(t.rulesOwed).where(sql`rules_owed IS NOT NULL`),
  ],
);

export type UserRow = typeof users.$inferSelect;

export const memberships = sqliteTable(
  "memberships",
  {
    tenantId: text("tenant_id").notNull(),
    groupId: text("group_id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ["member", "admin"] })
      .notNull()
      .default("member"),
    // Bits of core/members/sources.ts: which sources hold the membership (never 0: the row goes).
    sources: integer("sources").notNull().default(1),
    // How the provisioning system names this member (SCIM members[].display).
    display: text("display"),
    addedAt: integer("added_at").notNull(),
    // When the direct source stops holding the membership (null: never). Reads go through
    // live_memberships, which hides it from then on; the group's coordinator removes it.
    expiresAt: integer("expires_at"),
  },
  (t) => [
    // A group's members walk the primary key; a user's groups walk the second index.
    primaryKey({ columns: [t.tenantId, t.groupId, t.userId] }),
    index("memberships_by_user").on(t.tenantId, t.userId, t.groupId),
    index("memberships_expiring").on(t.tenantId, t.groupId, t.expiresAt).where(sql`expires_at IS NOT NULL`),
  ],
);

/**
 * The memberships as every read sees them (a view, migration 0012): a direct source past its
 * expires_at no longer holds, so a membership only it held is gone from the moment it expires,
 * before its coordinator deletes the row.
 */
export const liveMemberships = sqliteView("live_memberships", {
  tenantId: text("tenant_id").notNull(),
  groupId: text("group_id").notNull(),
  userId: text("user_id").notNull(),
  role: text("role", { enum: ["member", "admin"] }).notNull(),
  sources: integer("sources").notNull(),
  display: text("display"),
  addedAt: integer("added_at").notNull(),
  expiresAt: integer("expires_at"),
}).existing();

// Parent → child links between groups (a DAG).
export const groupEdges = sqliteTable(
  "group_edges",
  {
    tenantId: text("tenant_id").notNull(),
    parentId: text("parent_id").notNull(),
    childId: text("child_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.parentId, t.childId] }),
    index("group_edges_by_child").on(t.tenantId, t.childId, t.parentId),
  ],
);

// Roles with levels: a lower level is a more powerful role (0 is the top).
export const roles = sqliteTable(
  "roles",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    key: text("key").notNull(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    level: integer("level").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    // Grows with each change: the role's entity tag (core/shared/versions.ts).
    version: integer("version").notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), uniqueIndex("roles_key").on(t.tenantId, t.key)],
);

export const groupRoles = sqliteTable(
  "group_roles",
  {
    tenantId: text("tenant_id").notNull(),
    groupId: text("group_id").notNull(),
    roleId: text("role_id").notNull(),
    assignedAt: integer("assigned_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.groupId, t.roleId] }), index("group_roles_by_role").on(t.tenantId, t.roleId)],
);

export const userRoles = sqliteTable(
  "user_roles",
  {
    tenantId: text("tenant_id").notNull(),
    userId: text("user_id").notNull(),
    roleId: text("role_id").notNull(),
    assignedAt: integer("assigned_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId, t.roleId] }), index("user_roles_by_role").on(t.tenantId, t.roleId)],
);

// A group's membership rule (core/rules): a SCIM filter over user profiles; the users it
// selects hold the group with the "rule" source. Paused: its memberships stay as they are.
export const groupRules = sqliteTable(
  "group_rules",
  {
    tenantId: text("tenant_id").notNull(),
    groupId: text("group_id").notNull(),
    expression: text("expression").notNull(),
    paused: integer("paused").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.groupId] })],
);

// Per-tenant settings as one validated JSON document (see core/config/rules.ts).
export const tenantConfig = sqliteTable("tenant_config", {
  tenantId: text("tenant_id").primaryKey(),
  settings: text("settings").notNull().default("{}"),
  updatedAt: integer("updated_at").notNull(),
  // Grows with each change: the config's entity tag (a tenant without a row is at version 0).
  version: integer("version").notNull().default(1),
});

// messageIds of analytics events already applied, for de-duplication of retries.
export const trackingMessages = sqliteTable(
  "tracking_messages",
  {
    tenantId: text("tenant_id").notNull(),
    messageId: text("message_id").notNull(),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.messageId] }), index("tracking_messages_received_at").on(t.receivedAt)],
);

/**
 * What an event adds to a packed page of the change stream beyond its fixed columns
 * (core/events): detail's bytes, and actor's at worst escaped (6 bytes a character).
 */
export const eventWeight = sql.raw("length(CAST(detail AS BLOB)) + 6 * length(coalesce(actor, ''))");
/** Events weighing more are indexed in audit_log_heavy: a page without one needs no byte count. */
export const LIGHT_EVENT_WEIGHT = 1_000;

// What changed, by whom, in the order it was applied: the audit trail and the change
// stream (GET /v1/events) are this one table. Each row is written in the same D1 batch as
// its change. cursor only grows (AUTOINCREMENT never reuses a value), so a reader resumes
// after the last one it saw; member mutations also carry the coordinator's sequence number
// for their group.
export const auditLog = sqliteTable(
  "audit_log",
  {
    cursor: integer("cursor").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    at: integer("at").notNull(),
    actor: text("actor"),
    /** The surface or mechanism that made the change: api, seed-001, conversation-groups, scim, tracking, ... */
    source: text("source"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    seq: integer("seq"),
    detail: text("detail").notNull().default("{}"),
  },
  (t) => [
    uniqueIndex("audit_log_id").on(t.tenantId, t.id),
    index("audit_log_feed").on(t.tenantId, t.cursor),
    // Partial: most events are light, so it holds few rows and costs most writes nothing.
    index("audit_log_heavy")
      .on(t.tenantId, t.cursor)
      .where(sql`${eventWeight} > ${sql.raw(String(LIGHT_EVENT_WEIGHT))}`),
    index("audit_log_at").on(t.at),
    index("audit_log_by_target").on(t.tenantId, t.targetType, t.targetId, t.seq),
  ],
);

// How far the daily purge has forgotten each tenant's events: a reader resuming from an
// older cursor has missed events and must resync (410).
export const eventHorizons = sqliteTable("event_horizons", {
  tenantId: text("tenant_id").primaryKey(),
  purgedThrough: integer("purged_through").notNull(),
  purgedAt: integer("purged_at").notNull(),
});

// Webhook endpoints of a tenant (core/webhooks). The signing secret is kept as it is: every
// delivery is signed with it. enqueued_through: the last event cursor handed to delivery.
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    url: text("url").notNull(),
    description: text("description").notNull().default(""),
    /** JSON array of event types; null: every type. */
    types: text("types"),
    secret: text("secret").notNull(),
    /** After a rotation, deliveries are signed with the old secret too until previous_secret_until. */
    previousSecret: text("previous_secret"),
    previousSecretUntil: integer("previous_secret_until"),
    paused: integer("paused").notNull().default(0),
    enqueuedThrough: integer("enqueued_through").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

// One event for one endpoint: the outbox row the queue consumer works and the sweep resends.
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    tenantId: text("tenant_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    cursor: integer("cursor").notNull(),
    eventId: text("event_id").notNull(),
    /** pending (queued or waiting for a retry), delivered, or dead (attempts spent). */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** When the sweep may send it again: the current attempt's lease (or its retry's delay) runs out. */
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastAttemptAt: integer("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: integer("delivered_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.endpointId, t.cursor] }),
    uniqueIndex("webhook_deliveries_event").on(t.tenantId, t.endpointId, t.eventId),
    index("webhook_deliveries_due").on(t.status, t.nextAttemptAt),
  ],
);

// Long-lived per-tenant credentials (SCIM tokens, analytics write keys, ops scripts).
// Only the SHA-256 of the secret is kept; the secret is shown once, at creation.
export const apiKeys = sqliteTable(
  "api_keys",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    // Hex SHA-256 of the whole secret: the secret is 32+ random bytes, so a fast hash is enough.
    secretHash: text("secret_hash").notNull(),
    // The first characters of the secret, so a person can tell keys apart.
    hint: text("hint").notNull(),
    // Space-separated, as a token's scope claim.
    scopes: text("scopes").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), uniqueIndex("api_keys_secret_hash").on(t.secretHash)],
);

// The first answer to each Idempotency-Key of a tenant, kept 24 hours (core/idempotency).
// state "pending" while the first request runs; status and body once it has answered.
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    fingerprint: text("fingerprint").notNull(),
    state: text("state").notNull().default("pending"),
    status: integer("status"),
    // The answer's headers a replay repeats (content-type, etag, location), as a JSON object.
    headers: text("headers"),
    body: text("body"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] }), index("idempotency_keys_created_at").on(t.createdAt)],
);

// A tenant moving off this shard (core/shards/move.ts). While its row is here, triggers on every
// tenant table (migration 0013) log each changed row's key to tenant_move_log (state copying),
// or refuse the write (fenced, cleaning: deletes only, moved: the tenant lives on another shard).
export const tenantMovesOut = sqliteTable("tenant_moves_out", {
  tenantId: text("tenant_id").primaryKey(),
  state: text("state").notNull(),
});

// Keys of the rows a moving tenant's writes touched after its copy began: the catch-up copies them again.
export const tenantMoveLog = sqliteTable(
  "tenant_move_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id").notNull(),
    tableName: text("table_name").notNull(),
    /** JSON array of the row's primary key after tenant_id (audit_log: its cursor). */
    rowKey: text("row_key").notNull(),
  },
  (t) => [index("tenant_move_log_by_tenant").on(t.tenantId, t.id)],
);

// A moved tenant's events get new cursors on the shard they moved to (audit_log's cursor is
// the shard's own sequence); a reader's or a webhook's cursor from before the move is translated here.
export const movedEventCursors = sqliteTable(
  "moved_event_cursors",
  {
    tenantId: text("tenant_id").notNull(),
    oldCursor: integer("old_cursor").notNull(),
    newCursor: integer("new_cursor").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.oldCursor] })],
);
