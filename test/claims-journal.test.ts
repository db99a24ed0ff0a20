import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ClaimsQueue } from "../src/coordinator/claims-queue";
import { type ClaimsWriter, WRITE_CHUNK } from "../src/coordinator/claims-writer";
import { claimKey } from "../src/core/claims";
import { claimsSettled, claimsWritten, client, env, eventually, shardOf } from "./helpers";
import { peakSubrequests } from "./limits/entry";

// A mutation queues its users' claims refresh before its D1 batch, held until it is over.
// These tests play the two ways it can end: the object lives on, or it dies after the commit.
const claim = async (tenant: string, user: string) =>
  ((await env.CLAIMS.get(claimKey(tenant, user), "json")) as { values?: string[] } | null)?.values;

async function setup() {
  const api = await client(undefined, { scope: "admin" });
  const first = (await api.post("/v1/groups", { name: "First" })).json.result.group_id;
  const second = (await api.post("/v1/groups", { name: "Second" })).json.result.group_id;
  await api.post(`/v1/groups/${first}/members`, { user_ids: ["u1"] });
  await claimsSettled(api, [first], 10_000);
  expect(await claim(api.tenant, "u1")).toEqual(["First"]);
  const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(`${api.tenant}:${second}`));
  // The "D1 batch" of an add of u1 to Second, committed.
  const db = await shardOf(api.tenant);
  const commit = () =>
    db.batch([
      db
        .prepare("INSERT INTO memberships (tenant_id, group_id, user_id, role, sources, added_at) VALUES (?, ?, 'u1', 'member', 1, ?)")
        .bind(api.tenant, second, Date.now()),
      db.prepare("UPDATE groups SET member_count = member_count + 1 WHERE tenant_id = ? AND id = ?").bind(api.tenant, second),
    ]);
  return { api, stub, commit };
}

describe("claims refresh queued before the commit", () => {
  it("is left alone by the alarm while its mutation runs, then refreshed from D1 after release", async () => {
    const { api, stub, commit } = await setup();
    await runInDurableObject(stub, async (_instance, state) => {
      const queue = new ClaimsQueue(state.storage, env);
      await queue.hold(api.tenant, ["u1"]);
      await queue.work(); // an alarm during the mutation: the held entry waits
      expect(await queue.pending()).toBe(1);
      await commit();
      await queue.release();
      await queue.work();
      expect(await queue.pending()).toBe(0);
    });
    await claimsWritten(api.tenant);
    expect((await claim(api.tenant, "u1"))?.sort()).toEqual(["First", "Second"]);
  });

  it("survives the object dying between the commit and the refresh: the next instance refreshes from D1", async () => {
    const { api, stub, commit } = await setup();
    await runInDurableObject(stub, async (_instance, state) => {
      await new ClaimsQueue(state.storage, env).hold(api.tenant, ["u1"]);
      await commit();
      // The object dies here: nothing releases the entry. A new instance holds nothing.
      expect(await state.storage.getAlarm()).not.toBeNull();
      const next = new ClaimsQueue(state.storage, env);
      await next.work();
      expect(await next.pending()).toBe(0);
    });
    await claimsWritten(api.tenant);
    expect((await claim(api.tenant, "u1"))?.sort()).toEqual(["First", "Second"]);
    expect((await api.get("/v1/users/u1/claims")).json.result).toEqual({ groups: ["First", "Second"] });
  });

  it("brings an alarm armed for later (a membership's expiry) forward, so a death before release is refreshed within seconds", async () => {
    const { api, stub, commit } = await setup();
    const tomorrow = Date.now() + 86_400_000;
    await runInDurableObject(stub, async (_instance, state) => {
      await state.storage.setAlarm(tomorrow);
      await new ClaimsQueue(state.storage, env).hold(api.tenant, ["u1"]);
      expect(await state.storage.getAlarm()).toBeLessThanOrEqual(Date.now() + 1_000);
      await commit();
      // The object dies here: nothing releases the entry. Its own alarm refreshes the claim from D1.
    });
    await eventually(async () => (await claim(api.tenant, "u1"))?.length === 2, 10_000, 100);
    expect((await claim(api.tenant, "u1"))?.sort()).toEqual(["First", "Second"]);
    expect(await stub.pendingRefreshes()).toBe(0);
  });
});

describe("claims writes within Cloudflare's 1,000 subrequests per invocation", () => {
  it("writes one chunk per alarm run, under the cap, and re-arms for the rest", async () => {
    const api = await client(undefined, { scope: "admin" });
    const gid = (await api.post("/v1/groups", { name: "Big" })).json.result.group_id;
    // 1,000 members seeded set-based, so no coordinator hands them to a writer.
    await (await shardOf(api.tenant)).batch([
      (await shardOf(api.tenant))
        .prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
        INSERT INTO users (tenant_id, id, created_at, updated_at) SELECT ?1, 'big-' || i, 0, 0 FROM n`)
        .bind(api.tenant),
      (await shardOf(api.tenant))
        .prepare(`INSERT INTO memberships (tenant_id, group_id, user_id, role, sources, added_at)
        SELECT tenant_id, ?2, id, 'member', 1, 0 FROM users WHERE tenant_id = ?1`)
        .bind(api.tenant, gid),
    ]);
    const users = Array.from({ length: 1_000 }, (_, i) => `big-${i}`);
    const stub = env.CLAIMS_WRITER.get(env.CLAIMS_WRITER.idFromName(`${api.tenant}:test`));
    await runInDurableObject(stub, async (instance, state) => {
      const writer = instance as ClaimsWriter;
      await writer.enqueue(api.tenant, users);
      await state.storage.deleteAlarm(); // this test runs the first alarm itself
      peakSubrequests.value = 0;
      await writer.alarm();
      expect(peakSubrequests.value).toBeGreaterThan(WRITE_CHUNK);
      expect(peakSubrequests.value).toBeLessThanOrEqual(1_000);
      expect(await writer.pending()).toBe(1_000 - WRITE_CHUNK);
      expect(await state.storage.getAlarm()).not.toBeNull(); // re-armed for the other chunks
    });
    // The object's own alarm writes the other four chunks, one run each.
    await eventually(async () => (await stub.pending()) === 0, 20_000, 100);
    for (const u of ["big-0", "big-500", "big-999"]) expect(await claim(api.tenant, u)).toEqual(["Big"]);
  });
});

describe("a claims writer serves one tenant", () => {
  it("refuses users of another tenant than the one it first wrote for, and keeps nothing of them", async () => {
    const stub = env.CLAIMS_WRITER.get(env.CLAIMS_WRITER.idFromName("owner-test:0"));
    expect(await stub.enqueue("owner-test", ["u1"], 60_000)).toBe(true);
    expect(await stub.enqueue("someone-else", ["intruder"], 60_000)).toBe(false);
    await runInDurableObject(stub, async (_instance, state) => {
      expect([...(await state.storage.list({ prefix: "w:" })).keys()]).toEqual(["w:u1"]);
      expect(await state.storage.get("tenant")).toBe("owner-test");
      await state.storage.deleteAlarm(); // u1 does not exist; nothing is left to run after the test
    });
  });
});
