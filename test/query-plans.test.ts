import type { SQL } from "drizzle-orm";
import { and, eq, sql } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { claimsQuery } from "../src/core/claims/reads";
import { eventWindow, lightEventsQuery, nextEventsQuery } from "../src/core/events";
import { expiredEvents } from "../src/core/events/retention";
import { membersAmong } from "../src/core/hierarchy/subtree-counts";
import { addBreaksLimitsSql, groupsPerUserHeld } from "../src/core/members/rules";
import { existingMembersQuery, groupsOfQuery } from "../src/core/members/writes";
import { overdueQuery } from "../src/core/rules/owed";
import { USER_ATTRIBUTES } from "../src/core/scim/attributes";
import { compileFilter, parseFilter } from "../src/core/scim/filter";
import { encodeCursor } from "../src/core/shared/paging";
import { usersPageQuery } from "../src/core/users";
import { users } from "../src/db/schema";
import { shardOfBound } from "./helpers";

const dialect = new SQLiteAsyncDialect();

async function plan(query: SQL): Promise<string[]> {
  const q = dialect.sqlToQuery(query);
  const rows = await (await shardOfBound(q.params))
    .prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
    .bind(...q.params)
    .all<{ detail: string }>();
  return rows.results.map((r) => r.detail);
}

// Hot queries must look ids up by index, never scan a group's or a tenant's memberships.
describe("query plans of hot queries", () => {
  const ids = ["a", "b", "c"];

  it("existing members: index lookups per id", async () => {
    const p = await plan(existingMembersQuery("t", "g", ids));
    expect(p.join("\n")).toMatch(
      /SEARCH m USING (COVERING )?INDEX sqlite_autoindex_memberships_1 \(tenant_id=\? AND group_id=\? AND user_id=\?\)/,
    );
    expect(p.some((d) => /^SCAN m\b/.test(d))).toBe(false);
  });

  it("the cron's owed rule work: a range of each mark's partial index, no scan of users or groups", async () => {
    for (const [table, index] of [
      ["users", "users_rules_owed"],
      ["groups", "groups_rule_owed"],
    ] as const) {
      const p = await plan(overdueQuery(table, 1_000));
      expect(p.join("\n")).toMatch(new RegExp(`SEARCH ${table} USING INDEX ${index} \\(rules?_owed>\\? AND rules?_owed<\\?\\)`));
      expect(p.some((d) => /^SCAN|TEMP B-TREE/.test(d))).toBe(false);
    }
  });

  it("the tenant's users: a range of the primary key, or the email index; no scan, no sort", async () => {
    const page = (await plan(usersPageQuery("t", { limit: 50, cursor: encodeCursor("m") }))).join("\n");
    expect(page).toMatch(/SEARCH users USING INDEX sqlite_autoindex_users_1 \(tenant_id=\? AND id>\?\)/);
    const byEmail = (await plan(usersPageQuery("t", { limit: 50, email: "a@example.com" }))).join("\n");
    expect(byEmail).toMatch(/SEARCH users USING INDEX \w+ \(tenant_id=\? AND email_key=\?\)/);
    for (const p of [page, byEmail]) expect(p).not.toMatch(/SCAN|TEMP B-TREE/);
  });

  it("groups-per-user check: the by-user index, in the read before an add and in the batch that writes it", async () => {
    for (const p of [await plan(groupsOfQuery("t", ids)), await plan(groupsPerUserHeld("t", JSON.stringify(ids)))]) {
      expect(p.join("\n")).toMatch(/SEARCH m USING (COVERING )?INDEX memberships_by_user \(tenant_id=\? AND user_id=\?\)/);
      expect(p.some((d) => /^SCAN m\b/.test(d))).toBe(false);
    }
  });

  it("claims build: by-user index, edges by child, groups by primary key", async () => {
    const p = (await plan(claimsQuery("t", ids))).join("\n");
    // Through the live_memberships view, which SQLite flattens into the query: its table is named as itself.
    expect(p).toMatch(/SEARCH (m|memberships) USING (COVERING )?INDEX memberships_by_user/);
    expect(p).toMatch(/SEARCH e USING (COVERING )?INDEX group_edges_by_child \(tenant_id=\? AND child_id=\?\)/);
    expect(p).toMatch(/SEARCH g USING INDEX sqlite_autoindex_groups_1 \(tenant_id=\? AND id=\?\)/);
    expect(p).not.toMatch(/SCAN (m|memberships|e|g)\b/);
  });

  it("a page of members through live_memberships: the primary key in order, no sort, no scan", async () => {
    const p = (
      await plan(sql`SELECT m.user_id, m.sources, m.expires_at FROM live_memberships m
                     WHERE m.tenant_id = ${"t"} AND m.group_id = ${"g"} AND m.user_id > ${"a"} ORDER BY m.user_id LIMIT 51`)
    ).join("\n");
    expect(p).toMatch(/SEARCH (m|memberships) USING INDEX sqlite_autoindex_memberships_1 \(tenant_id=\? AND group_id=\? AND user_id>\?\)/);
    expect(p).not.toMatch(/TEMP B-TREE|SCAN (m|memberships)\b/);
  });

  it("SCIM userName filter: the unique user-name index, not a scan of the tenant's users", async () => {
    const where = compileFilter(parseFilter('userName eq "Ann.Lee"'), USER_ATTRIBUTES);
    const p = (await plan(sql`SELECT id FROM users WHERE ${and(eq(users.tenantId, "t"), where)}`)).join("\n");
    expect(p).toMatch(/SEARCH users USING INDEX users_user_name_key \(tenant_id=\? AND user_name_key=\?\)/);
  });

  it("limits checked inside an ingest's batch: by-user and primary-key lookups per joining user, no scan", async () => {
    const p = (await plan(sql`SELECT ${addBreaksLimitsSql("t", "g", membersAmong("t", "g", JSON.stringify(ids), false))}`)).join("\n");
    expect(p).toMatch(/SEARCH m USING (COVERING )?INDEX memberships_by_user \(tenant_id=\? AND user_id=\?\)/);
    expect(p).toMatch(/SEARCH x USING (COVERING )?INDEX sqlite_autoindex_memberships_1 \(tenant_id=\? AND group_id=\? AND user_id=\?\)/);
    expect(p).not.toMatch(/SCAN (m|x|memberships)\b/);
  });

  it("the change stream: a page is an index range of the tenant's events by cursor; the purge walks events by age", async () => {
    const feed = (await plan(eventWindow("t", 42, 101))).join("\n");
    expect(feed).toMatch(/SEARCH audit_log USING INDEX audit_log_feed \(tenant_id=\? AND cursor>\?\)/);
    expect(feed).not.toMatch(/TEMP B-TREE|SCAN audit_log/);
    // Packed (core/events/index.ts): the same index range, read again instead of copied, and no sort.
    const packed = (await plan(nextEventsQuery("t", 42, 101))).join("\n");
    expect(packed.match(/SEARCH audit_log USING INDEX audit_log_feed \(tenant_id=\? AND cursor>\?\)/g)?.length).toBeGreaterThanOrEqual(2);
    expect(packed).not.toMatch(/TEMP B-TREE|SCAN audit_log|MATERIALIZE/);
    // Packed in one pass when no heavy event is in the window: the partial index of heavy events, the window's
    // cursors from audit_log_feed alone, then the window.
    const light = (await plan(lightEventsQuery("t", 42, 101))).join("\n");
    expect(light).toMatch(/SEARCH audit_log USING INDEX audit_log_heavy \(tenant_id=\? AND cursor>\?\)/);
    expect(light).toMatch(/SEARCH audit_log USING COVERING INDEX audit_log_feed \(tenant_id=\? AND cursor>\?\)/);
    expect(light).toMatch(/SEARCH audit_log USING INDEX audit_log_feed \(tenant_id=\? AND cursor>\?\)/);
    expect(light).not.toMatch(/TEMP B-TREE|SCAN audit_log/);
    const purge = (await plan(expiredEvents(Date.now()))).join("\n");
    expect(purge).toMatch(/SEARCH a USING INDEX audit_log_at \(at<\?\)/);
    expect(purge).not.toMatch(/SCAN a\b/);
  });
});
