import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ClaimsQueue } from "../src/coordinator/claims-queue";
import type { MutationMeta } from "../src/core/members/writes";
import type { Authority } from "../src/core/roles/rules";
import { tenantDatabase } from "../src/core/shards/directory";
import { database } from "../src/core/shared/context";
import { CoreError } from "../src/core/shared/errors";
import { ingestGroupCalls } from "../src/core/tracking/writes";
import { watchedEnv } from "../src/http/watched-bindings";
import { call, client, env, freshTenant, shardOf, shardOfBound, token } from "./helpers";

// An analytics group call into a group that exists, with fresh events the rules allow, is
// one D1 batch that checks its own preconditions; anything else takes the careful path
// (read, then write) and ends exactly as it did before the one-batch path existed.
const count = async (sql: string, ...args: unknown[]) =>
  (await (
    await shardOfBound(args)
  )
    .prepare(sql)
    .bind(...args)
    .first<{ n: number }>())!.n;

const versionOf = (tenant: string, id: string) => count("SELECT version AS n FROM groups WHERE tenant_id = ? AND id = ?", tenant, id);

async function groupWith(members: string[]) {
  const api = await client(freshTenant("rt"), { scope: "admin" });
  const id = (await api.post("/v1/groups", { name: "Acme" })).json.result.group_id as string;
  if (members.length > 0) await api.post(`/v1/groups/${id}/members`, { user_ids: members });
  return { api, id };
}

/** Run the ingest as the coordinator would, counting D1 round trips and recording the claims journal. */
async function ingestCounted(
  tenantId: string,
  groupId: string,
  calls: Parameters<typeof ingestGroupCalls>[3],
  who: Authority = { exempt: true, roleKeys: [] },
) {
  let roundTrips = 0;
  const queued: string[][] = [];
  const changed: string[][] = [];
  const watched = watchedEnv(env, { call: (kind) => void (kind === "d1" && roundTrips++) });
  const db = database((await tenantDatabase(watched, tenantId)).d1);
  const m: MutationMeta = {
    tenantId,
    groupId,
    actor: "tracker",
    seq: 1_000,
    source: "tracking",
    beforeCommit: async (users) => void queued.push(users),
    changedOnly: async (users) => void changed.push(users),
  };
  const outcome = await ingestGroupCalls(db, m, who, calls).catch((e: unknown) => e);
  return { outcome, roundTrips, queued, changed };
}

const at = Date.parse("2024-03-01T00:00:00Z");
const callOf = (i: number, userId: string, over: Record<string, unknown> = {}) => ({
  index: i,
  userId,
  traits: { group_type: "Group", plan: "pro" },
  at,
  messageId: `msg-${userId}`,
  ...over,
});

describe("analytics group calls in one round trip", () => {
  it("into a group that exists: one D1 batch adds the new users, merges the traits, and refreshes only who joined", async () => {
    const { api, id } = await groupWith(["old"]);
    const before = await versionOf(api.tenant, id);
    const r = await ingestCounted(api.tenant, id, [
      callOf(0, "old"),
      callOf(1, "new1"),
      callOf(2, "new2"),
      callOf(3, "new1", { messageId: "msg-new1-again" }),
    ]);
    expect(r.roundTrips).toBe(1);
    expect(r.outcome).toEqual({ applied: 4, duplicates: 0, warnings: [], refresh: ["new1", "new2"] });
    // Every user of the request is queued before the batch; the batch says who joined.
    expect(r.queued).toEqual([["old", "new1", "new2"]]);
    expect(r.changed).toEqual([["new1", "new2"]]);
    const after = (await api.get(`/v1/groups/${id}`)).json.result;
    expect(after).toMatchObject({ member_count: 3, name: "Acme", type: "Group" });
    expect(await versionOf(api.tenant, id)).toBe(before + 1);
    expect((await api.get(`/v1/groups/${id}/members`)).json.result.map((m: any) => m.user_id).sort()).toEqual(["new1", "new2", "old"]);
    expect((await api.get(`/v1/groups/${id}/traits`)).json.result.plan.value).toBe("pro");
    expect(await count("SELECT count(*) AS n FROM tracking_messages WHERE tenant_id = ?", api.tenant)).toBe(4);
    expect(await count("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND target_id = ? AND seq = 1000", api.tenant, id)).toBe(2);
  });

  it("stays one round trip after a padded or refused name trait: the batch takes a field trait as the careful path does", async () => {
    const { api, id } = await groupWith([]);
    const named = (name: string) => ({ traits: { group_type: "Group", name } });
    const padded = await ingestCounted(api.tenant, id, [callOf(0, "a", named("  Acme Two \t"))]);
    expect(padded.roundTrips).toBeGreaterThan(1);
    expect((await api.get(`/v1/groups/${id}`)).json.result.name).toBe("Acme Two");
    const again = await ingestCounted(api.tenant, id, [callOf(1, "b", named("  Acme Two \t"))]);
    expect(again.roundTrips).toBe(1);

    const refused = await ingestCounted(api.tenant, id, [callOf(2, "c", named("Acme\u202ETwo"))]);
    expect(refused.outcome).toMatchObject({ warnings: [{ index: 2, message: expect.stringContaining("keeps its name") }] });
    const afterRefused = await ingestCounted(api.tenant, id, [callOf(3, "d", { traits: { group_type: "Group" } })]);
    expect(afterRefused.roundTrips).toBe(1);
    expect((await api.get(`/v1/groups/${id}`)).json.result).toMatchObject({ name: "Acme Two", member_count: 4 });

    // A name past the limit is cut by the careful path, which decides every time; a name that differs still renames.
    const long = `${"L".repeat(200)}tail`;
    await ingestCounted(api.tenant, id, [callOf(4, "e", named(long))]);
    expect((await api.get(`/v1/groups/${id}`)).json.result.name).toBe("L".repeat(200));
    expect((await ingestCounted(api.tenant, id, [callOf(5, "f", named(long))])).roundTrips).toBeGreaterThan(1);
    const renamed = await ingestCounted(api.tenant, id, [callOf(6, "g", named("Acme Three"))]);
    expect(renamed.roundTrips).toBeGreaterThan(1);
    expect((await api.get(`/v1/groups/${id}`)).json.result.name).toBe("Acme Three");
  });

  it("falls back when the batch's checks fail, and the failed batch leaves nothing behind", async () => {
    const { api, id } = await groupWith([]);
    // A group that does not exist yet is created by the careful path.
    const created = await ingestCounted(api.tenant, "acct-new", [callOf(0, "a", { traits: { group_type: "Account", name: "New Co" } })]);
    expect(created.roundTrips).toBeGreaterThan(1);
    expect(created.changed).toEqual([[]]);
    expect(created.outcome).toMatchObject({ applied: 1, refresh: ["a"] });
    expect((await api.get("/v1/groups/acct-new")).json.result).toMatchObject({ name: "New Co", type: "Account", member_count: 1 });
    // An event applied before: the careful path counts it a duplicate and adds nobody for it.
    // (Deleting the user: a native remove would clear only the direct source, and a holds the group through analytics.)
    expect((await api.del("/v1/users/a")).status).toBe(204);
    const again = await ingestCounted(api.tenant, "acct-new", [callOf(0, "a", { messageId: "msg-a" }), callOf(1, "b")]);
    expect(again.outcome).toMatchObject({ applied: 1, duplicates: 1, refresh: ["b"] });
    expect((await api.get("/v1/groups/acct-new/members")).json.result.map((m: any) => m.user_id)).toEqual(["b"]);
    // A field trait that would change the group's fields: the careful path applies it.
    const renamed = await ingestCounted(api.tenant, id, [callOf(0, "c", { traits: { group_type: "Team", name: "Acme Two" } })]);
    expect(renamed.outcome).toMatchObject({ warnings: [] });
    expect((await api.get(`/v1/groups/${id}`)).json.result).toMatchObject({ name: "Acme Two", type: "Team", member_count: 1 });
    // Each applied once: one audit of the add per path that committed, none from an aborted batch.
    expect(
      await count("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND target_id = ? AND action = 'members.add'", api.tenant, id),
    ).toBe(1);
    expect(await count("SELECT count(*) AS n FROM tracking_messages WHERE tenant_id = ? AND message_id = 'msg-c'", api.tenant)).toBe(1);
  });

  it("the tenant's limits: over either, the call fails with the limit's reason and nothing changes", async () => {
    const tenant = freshTenant("rt-limits");
    const api = await client(tenant, { scope: "admin" });
    await (await shardOf(tenant))
      .prepare("INSERT INTO tenant_config (tenant_id, settings, updated_at) VALUES (?, ?, 0)")
      .bind(tenant, JSON.stringify({ maxMembersPerGroup: 2, maxGroupsPerUser: 1 }))
      .run();
    const small = (await api.post("/v1/groups", { name: "Small" })).json.result.group_id;
    const other = (await api.post("/v1/groups", { name: "Other" })).json.result.group_id;
    await api.post(`/v1/groups/${small}/members`, { user_ids: ["in1"] });
    await api.post(`/v1/groups/${other}/members`, { user_ids: ["busy"] });
    const tracking = await token({ tenant, scope: "group_api" });
    const send = (body: unknown) => call("POST", "/api/group", { token: tracking, body });
    const ev = (user: string, message: string) => ({
      user_id: user,
      group_id: small,
      timestamp: "2024-03-01T00:00:00Z",
      traits: { group_type: "Group", tier: "gold" },
      message_id: message,
    });

    const tooMany = await send([ev("x1", "l-1"), ev("x2", "l-2")]);
    expect(tooMany.status).toBe(200);
    expect(tooMany.json.success).toBe(false);
    expect(tooMany.json.failed).toEqual([
      { index: 0, message: expect.stringContaining("would have 3 members") },
      { index: 1, message: expect.stringContaining("would have 3 members") },
    ]);
    const busy = await send([ev("busy", "l-3")]);
    expect(busy.json.failed).toEqual([{ index: 0, message: expect.stringContaining("already in 1 groups") }]);

    expect((await api.get(`/v1/groups/${small}`)).json.result.member_count).toBe(1);
    expect((await api.get(`/v1/groups/${small}/traits`)).json.result).toEqual({});
    expect(await count("SELECT count(*) AS n FROM tracking_messages WHERE tenant_id = ?", tenant)).toBe(0);
    // Within the limits, the same group takes the call.
    const fits = await send([ev("x1", "l-4")]);
    expect(fits.json).toMatchObject({ success: true });
    expect((await api.get(`/v1/groups/${small}/members`)).json.result.map((m: any) => m.user_id).sort()).toEqual(["in1", "x1"]);
  });

  it("a role on the group that outranks the caller refuses in the batch: the careful path explains, nothing is applied", async () => {
    const tenant = freshTenant("rt-role");
    const admin = await client(tenant, { scope: "admin" });
    const role = (await admin.post("/v1/roles", { key: "owner", name: "Owner", level: 0 })).json.result.role_id;
    const guarded = (await admin.post("/v1/groups", { name: "Guarded" })).json.result.group_id;
    await admin.post(`/v1/groups/${guarded}/roles`, { role_ids: [role] });
    const before = await versionOf(tenant, guarded);
    const r = await ingestCounted(tenant, guarded, [callOf(0, "u1")], { exempt: false, roleKeys: ["owner"] });
    expect(r.outcome).toBeInstanceOf(CoreError);
    expect(r.outcome).toMatchObject({ kind: "forbidden", message: expect.stringContaining("higher than every role") });
    expect(r.changed).toEqual([[]]);
    expect((await admin.get(`/v1/groups/${guarded}`)).json.result.member_count).toBe(0);
    expect(await versionOf(tenant, guarded)).toBe(before);
    expect((await admin.get(`/v1/groups/${guarded}/traits`)).json.result).toEqual({});
    expect(await count("SELECT count(*) AS n FROM tracking_messages WHERE tenant_id = ?", tenant)).toBe(0);
  });

  it("a queued refresh of users a mutation did not change is dropped", async () => {
    const { api, id } = await groupWith([]);
    const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(`${api.tenant}:${id}`));
    await runInDurableObject(stub, async (_instance, state) => {
      const queue = new ClaimsQueue(state.storage, env);
      await queue.hold(api.tenant, ["a", "b", "c"]);
      await queue.keepOnly(["b"]);
      expect(await queue.pending()).toBe(1);
      await queue.hold(api.tenant, ["d"]);
      await queue.keepOnly([]);
      expect(await queue.pending()).toBe(0);
      await queue.release();
    });
  });
});
