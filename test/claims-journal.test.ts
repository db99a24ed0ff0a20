import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ClaimsQueue } from "../src/coordinator/claims-queue";
import { claimKey } from "../src/core/claims";
import { client, env } from "./helpers";

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
