import { describe, expect, it } from "vitest";
import { type Client, claimsWritten, client, env, shardOf } from "./helpers";

async function newGroup(api: Client, name: string) {
  return (await api.post("/v1/groups", { name })).json.result.group_id as string;
}

describe("group coordinator", () => {
  it("20 parallel overlapping adds and removes end equal to a serial replay in the logged order", async () => {
    const api = await client();
    const g = await newGroup(api, "contended");
    const pool = Array.from({ length: 12 }, (_, i) => `u${i}`);
    const ops = Array.from({ length: 20 }, (_, i) => ({
      kind: i % 3 === 2 ? "remove" : "add",
      ids: pool.filter((_, j) => (j + i) % 4 !== 0).slice(i % 5, (i % 5) + 6),
    }));
    const responses = await Promise.all(
      ops.map((op) =>
        op.kind === "add"
          ? api.post(`/v1/groups/${g}/members`, { user_ids: op.ids })
          : api.del(`/v1/groups/${g}/members`, { user_ids: op.ids }),
      ),
    );
    for (const r of responses) expect(r.status).toBe(200);

    const log = await (await shardOf(api.tenant))
      .prepare(
        "SELECT action, seq, detail FROM audit_log WHERE tenant_id = ? AND target_type = 'group' AND target_id = ? AND seq IS NOT NULL ORDER BY seq",
      )
      .bind(api.tenant, g)
      .all<{ action: string; seq: number; detail: string }>();
    expect(log.results).toHaveLength(20);
    expect(log.results.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    const replay = new Set<string>();
    for (const entry of log.results) {
      const ids: string[] = JSON.parse(entry.detail).user_ids;
      for (const id of ids) entry.action === "members.add" ? replay.add(id) : replay.delete(id);
    }
    const stored = (
      await (
        await shardOf(api.tenant)
      )
        .prepare("SELECT user_id FROM memberships WHERE tenant_id = ? AND group_id = ? ORDER BY user_id")
        .bind(api.tenant, g)
        .all<{ user_id: string }>()
    ).results.map((r) => r.user_id);
    expect(stored).toEqual([...replay].sort());
    const count = await (await shardOf(api.tenant))
      .prepare("SELECT member_count FROM groups WHERE tenant_id = ? AND id = ?")
      .bind(api.tenant, g)
      .first("member_count");
    expect(count).toBe(stored.length);
    // the per-response counts add up to the final state
    const added = responses.reduce((n, r) => n + (r.json.result.added ?? 0), 0);
    const removed = responses.reduce((n, r) => n + (r.json.result.removed ?? 0), 0);
    expect(added - removed).toBe(stored.length);
  });

  it("a mutation racing the group's deletion leaves no orphan membership", async () => {
    const api = await client();
    for (let round = 0; round < 5; round++) {
      const g = await newGroup(api, `racer ${round}`);
      const adds = Array.from({ length: 6 }, (_, i) => api.post(`/v1/groups/${g}/members`, { user_ids: [`r${round}-${i}`, "shared"] }));
      const del = api.del(`/v1/groups/${g}`);
      const results = await Promise.all([...adds, del]);
      for (const r of results.slice(0, 6)) expect([200, 404]).toContain(r.status);
      expect(results[6]!.status).toBe(204);
      // after the delete, every mutation is a 404
      expect((await api.post(`/v1/groups/${g}/members`, { user_ids: ["late"] })).status).toBe(404);
      const orphans = await (await shardOf(api.tenant))
        .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND group_id = ?")
        .bind(api.tenant, g)
        .first("n");
      expect(orphans).toBe(0);
    }
  });

  it("adds 10,000 members in 10 calls of 1,000 and refreshes every one of their claims", async () => {
    const api = await client();
    const g = await newGroup(api, "big");
    for (let call = 0; call < 10; call++) {
      const ids = Array.from({ length: 1000 }, (_, i) => `m${call * 1000 + i}`);
      const res = await api.post(`/v1/groups/${g}/members`, { user_ids: ids });
      expect(res.json.result).toEqual({ added: 1000, already_members: 0 });
    }
    const count = await (await shardOf(api.tenant))
      .prepare("SELECT member_count FROM groups WHERE tenant_id = ? AND id = ?")
      .bind(api.tenant, g)
      .first("member_count");
    expect(count).toBe(10_000);
    const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(`${api.tenant}:${g}`));
    const deadline = Date.now() + 30_000;
    while ((await stub.pendingRefreshes()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await stub.pendingRefreshes()).toBe(0);
    // Handed to their claims writers; then wait until the writers have written them (they write in waves).
    await claimsWritten(api.tenant, 60_000);
    for (const id of ["m0", "m4999", "m9999"]) {
      const claim = await env.CLAIMS.get(`claims:${api.tenant}:${id}`, "json");
      expect(claim).toMatchObject({ values: ["big"], count: 1 });
    }
    let keys = 0;
    let cursor: string | undefined;
    do {
      const page: KVNamespaceListResult<unknown> = await env.CLAIMS.list({ prefix: `claims:${api.tenant}:`, cursor });
      keys += page.keys.length;
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    expect(keys).toBe(10_000);
  });
});
