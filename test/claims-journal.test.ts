import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ClaimsQueue, REFRESH_CHUNK } from "../src/coordinator/claims-queue";
import { claimKey } from "../src/core/claims";
import { type Calls, countedEnv } from "../src/http/request-log";
import { client, env, eventually } from "./helpers";

// A mutation queues its users' claims refresh before its D1 batch, held until it is over.
// These tests play the two ways it can end: the object lives on, or it dies after the commit.
const claim = async (tenant: string, user: string) =>
  ((await env.CLAIMS.get(claimKey(tenant, user), "json")) as { values?: string[] } | null)?.values;

async function setup() {
  const api = await client(undefined, { scope: "admin" });
  const first = (await api.post("/v1/groups", { name: "First" })).json.result.group_id;
  const second = (await api.post("/v1/groups", { name: "Second" })).json.result.group_id;
  await api.post(`/v1/groups/${first}/members`, { user_ids: ["u1"] });
  await api.get("/v1/users/u1/claims");
  expect(await claim(api.tenant, "u1")).toEqual(["First"]);
  const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(`${api.tenant}:${second}`));
  // The "D1 batch" of an add of u1 to Second, committed.
  const commit = () =>
    env.DB.batch([
      env.DB.prepare(
        "INSERT INTO memberships (tenant_id, group_id, user_id, role, source, added_at) VALUES (?, ?, 'u1', 'member', 'api', ?)",
      ).bind(api.tenant, second, Date.now()),
      env.DB.prepare("UPDATE groups SET member_count = member_count + 1 WHERE tenant_id = ? AND id = ?").bind(api.tenant, second),
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
    expect((await claim(api.tenant, "u1"))?.sort()).toEqual(["First", "Second"]);
    expect((await api.get("/v1/users/u1/claims")).json.result).toEqual({ groups: ["First", "Second"] });
  });
});

describe("claims refresh within Cloudflare's 1,000 subrequests per invocation", () => {
  it("refreshes one chunk per alarm run, under the cap, and re-arms for the rest", async () => {
    const api = await client(undefined, { scope: "admin" });
    const gid = (await api.post("/v1/groups", { name: "Big" })).json.result.group_id;
    const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(`${api.tenant}:${gid}`));
    const users = Array.from({ length: 1_000 }, (_, i) => `big-${i}`);
    const calls: Calls = { d1: 0, kv: 0, durableObjects: 0 };
    await runInDurableObject(stub, async (_instance, state) => {
      await new ClaimsQueue(state.storage, env).hold(api.tenant, users);
      await state.storage.deleteAlarm(); // this test runs the first alarm's work itself
      await new ClaimsQueue(state.storage, countedEnv(env, calls)).work();
      expect(await state.storage.getAlarm()).not.toBeNull(); // re-armed for the other chunks
    });
    expect(calls.d1 + calls.kv).toBeGreaterThan(REFRESH_CHUNK);
    expect(calls.d1 + calls.kv).toBeLessThanOrEqual(1_000);
    expect(calls.kv).toBeLessThanOrEqual(3 * REFRESH_CHUNK);
    // The object's own alarm works off the other four chunks, one run each.
    await eventually(async () => (await stub.pendingRefreshes()) === 0, 20_000, 100);
    expect(await env.CLAIMS.get(claimKey(api.tenant, "big-999"))).not.toBeNull();
  });
});
