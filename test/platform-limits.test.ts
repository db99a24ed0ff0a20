import { describe, expect, it } from "vitest";
import { callerOf, coordinatorOf } from "../src/coordinator/client";
import { claimKey } from "../src/core/claims";
import { RULE_LIMITS } from "../src/core/rules/rules";
import { tenantScope } from "../src/core/shared/context";
import { call, claimsCurrent, claimsSettled, client, env, eventually, freshTenant, shardOf, token } from "./helpers";
import { peakSubrequests, peaksByCall } from "./limits/entry";
import { kvRefusals, kvWrites, limitedEnv, newInvocation, PLATFORM_LIMITS } from "./limits/platform-limits";

describe("the limits layer refuses what production refuses", () => {
  it("a statement binding over 100 values, one over 100 KB, a value over 2 MB bound or made, and the 1,001st subrequest", async () => {
    // Every shard's binding is limited (DB_3 here: the last of the three).
    const limited = limitedEnv(env, newInvocation()) as unknown as Record<"DB_3", D1Database>;
    const values = Array.from({ length: 101 }, (_, i) => i);
    expect(() => limited.DB_3.prepare(`SELECT ${values.map(() => "?").join(", ")}`).bind(...values)).toThrow(/too many SQL variables/);
    expect(() => limited.DB_3.prepare(`SELECT '${"x".repeat(PLATFORM_LIMITS.d1StatementBytes)}'`)).toThrow(/statement too long/);
    expect(() => limited.DB_3.prepare("SELECT ?").bind("x".repeat(PLATFORM_LIMITS.d1ValueBytes + 1))).toThrow(/too big/);
    // Made by SQL (an aggregate, say): refused too, by a statement and in a batch; one byte less passes.
    const made = (n: number) => limited.DB_3.prepare("SELECT replace(hex(zeroblob(?)), '00', 'xy') AS v").bind(n / 2);
    await expect(made(PLATFORM_LIMITS.d1ValueBytes + 2).first()).rejects.toThrow(/too big/);
    await expect(limited.DB_3.batch([made(PLATFORM_LIMITS.d1ValueBytes + 2)])).rejects.toThrow(/too big/);
    expect((await made(PLATFORM_LIMITS.d1ValueBytes).first<{ v: string }>())!.v).toHaveLength(PLATFORM_LIMITS.d1ValueBytes);
    expect(
      await limited.DB_3.prepare(
        `SELECT ${values
          .slice(1)
          .map(() => "?")
          .join(", ")}`,
      )
        .bind(...values.slice(1))
        .raw(),
    ).toHaveLength(1);
    const busy = limitedEnv(env, newInvocation());
    for (let i = 0; i < PLATFORM_LIMITS.subrequests; i++) await busy.CLAIMS.get("nothing");
    await expect(async () => busy.CLAIMS.get("nothing")).rejects.toThrow(/Too many API requests/);
  });

  it("counts each call on a Durable Object as an invocation of its own: a rule's reconcile of 25 ranges in one coordinator call", async () => {
    const api = await client(freshTenant("do-call"), { scope: "admin" });
    const users = RULE_LIMITS.rangesPerCall * RULE_LIMITS.reconcileChunk;
    await (await shardOf(api.tenant))
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO users (tenant_id, id, email, email_key, custom_data, created_at, updated_at)
         SELECT ?, printf('u%06d', i), printf('u%06d@acme.com', i), printf('u%06d@acme.com', i),
                json_object('tier', CASE WHEN i % 5 = 0 THEN 'gold' ELSE 'basic' END), 0, 0 FROM n`,
      )
      .bind(users, api.tenant)
      .run();
    const g = (await api.post("/v1/groups", { name: "Gold" })).json.result.group_id;
    peaksByCall.clear();
    const put = await api.put(`/v1/groups/${g}/rule`, { expression: 'custom_data.tier eq "gold"' });
    expect(put.status, put.text).toBe(201);
    expect(put.json.result.reconciled).toEqual({ added: users / 5, removed: 0, skipped: [] });
    // One coordinator call walked every user, its D1 calls counted apart from the request's and under the limit.
    const reconcile = peaksByCall.get("GroupCoordinator.reconcileRule") ?? 0;
    expect(reconcile).toBeGreaterThan(RULE_LIMITS.rangesPerCall * 2);
    expect(reconcile).toBeLessThanOrEqual(PLATFORM_LIMITS.subrequests);

    // Calls that interleave on one object are each their own: together these make more than 1,000 subrequests, and
    // none is refused.
    const scope = await tenantScope(env, api.tenant, "test");
    const together = Math.ceil(PLATFORM_LIMITS.subrequests / reconcile) + 1;
    peaksByCall.clear();
    const calls = await Promise.all(
      Array.from({ length: together }, () => coordinatorOf(scope, g).reconcileRule(callerOf(scope, g, "rule"), { after: "" })),
    );
    expect(calls.map((c) => c.ok)).toEqual(calls.map(() => true));
    expect(peaksByCall.get("GroupCoordinator.reconcileRule")).toBeLessThanOrEqual(reconcile + 5);
  });

  it("a second write to one KV key within a second, from any invocation; other keys are free", async () => {
    const key = `layer-${Math.random()}`;
    await limitedEnv(env, newInvocation()).CLAIMS.put(key, "1");
    await expect(limitedEnv(env, newInvocation()).CLAIMS.put(key, "2")).rejects.toThrow(/429 Too Many Requests/);
    await expect(limitedEnv(env, newInvocation()).CLAIMS.delete(key)).rejects.toThrow(/429 Too Many Requests/);
    await limitedEnv(env, newInvocation()).CLAIMS.put(`${key}-other`, "1");
    expect(await env.CLAIMS.get(key)).toBe("1");
  });
});

describe("claims under KV's one write per key per second", () => {
  it("a user joining 20 groups at once: one writer coalesces the 20 coordinators' refreshes, nothing is refused, the claim has all 20", async () => {
    const api = await client(freshTenant("kvkey"), { scope: "admin" });
    const gids: string[] = [];
    for (let i = 0; i < 20; i++) gids.push((await api.post("/v1/groups", { name: `G${String(i).padStart(2, "0")}` })).json.result.group_id);
    const refusedBefore = kvRefusals.value;
    const answers = await Promise.all(gids.map((g) => api.post(`/v1/groups/${g}/members`, { user_ids: ["joiner"] })));
    expect(answers.map((a) => a.status)).toEqual(gids.map(() => 200));
    await claimsSettled(api, gids, 20_000);
    const stored = (await env.CLAIMS.get(claimKey(api.tenant, "joiner"), "json")) as { values: string[] };
    expect(stored.values).toEqual(gids.map((_, i) => `G${String(i).padStart(2, "0")}`));
    expect(kvRefusals.value - refusedBefore).toBe(0);
    // 20 coordinators refreshed the user; its writer wrote the key a few times, not 20.
    expect(kvWrites.get(claimKey(api.tenant, "joiner"))).toBeLessThanOrEqual(5);
  });

  it("a write KV refuses is retried a second later, and the claim ends equal to D1", async () => {
    const api = await client(freshTenant("kvkey"), { scope: "admin" });
    const gid = (await api.post("/v1/groups", { name: "Refused" })).json.result.group_id;
    const refusedBefore = kvRefusals.value;
    // Another writer (a deploy's old instance, say) has just written the key.
    await limitedEnv(env, newInvocation()).CLAIMS.put(claimKey(api.tenant, "late"), JSON.stringify({ stamp: "old", values: [], count: 0 }));
    expect((await api.post(`/v1/groups/${gid}/members`, { user_ids: ["late"] })).status).toBe(200);
    await claimsSettled(api, [gid], 20_000);
    expect(kvRefusals.value - refusedBefore).toBeGreaterThanOrEqual(1);
    expect(((await env.CLAIMS.get(claimKey(api.tenant, "late"), "json")) as { values: string[] }).values).toEqual(["Refused"]);
    expect((await api.get("/v1/users/late/claims")).json.result).toEqual({ groups: ["Refused"] });
  });
});

/** The most subrequests one invocation (a request, or one alarm run) made during `work`, once its claims settled. */
async function peakOf(work: () => Promise<void>, settled: () => Promise<boolean>) {
  peakSubrequests.value = 0;
  await work();
  await eventually(settled, 60_000, 100);
  return peakSubrequests.value;
}

describe("the heaviest paths stay within 1,000 subrequests per invocation", () => {
  it("a 1,000-member add, a 1,000-event batch, a rename over 10,000 users and deleting a user in 1,000 groups", async () => {
    const api = await client(freshTenant("heavy"), { scope: "admin" });
    const pending = (gid: string) => () => claimsCurrent(api, [gid]);
    const big = (await api.post("/v1/groups", { name: "Big" })).json.result.group_id;
    const peaks: Record<string, number> = {};
    const refusedBefore = kvRefusals.value;

    peaks["add 1,000 members"] = await peakOf(async () => {
      expect((await api.post(`/v1/groups/${big}/members`, { user_ids: Array.from({ length: 1_000 }, (_, i) => `m${i}`) })).status).toBe(
        200,
      );
    }, pending(big));

    const events = Array.from({ length: 1_000 }, (_, k) => ({
      user_id: `ev-${k}`,
      group_id: `acct-${k % 20}`,
      timestamp: new Date().toISOString(),
      traits: { group_type: "Account" },
    }));
    const tracker = await token({ tenant: api.tenant, scope: "group_api" });
    peaks["1,000-event batch over 20 groups"] = await peakOf(
      async () => {
        expect((await call("POST", "/api/group", { token: tracker, body: events })).status).toBe(200);
      },
      () =>
        claimsCurrent(
          api,
          Array.from({ length: 20 }, (_, k) => `acct-${k}`),
        ),
    );

    for (let b = 1; b < 10; b++) {
      await api.post(`/v1/groups/${big}/members`, { user_ids: Array.from({ length: 1_000 }, (_, i) => `m${b * 1_000 + i}`) });
    }
    await eventually(pending(big), 60_000, 100);
    peaks["rename a group over 10,000 users"] = await peakOf(async () => {
      expect((await api.patch(`/v1/groups/${big}`, { name: "Bigger" })).status).toBe(200);
    }, pending(big));
    expect((await api.get("/v1/users/m9999/claims")).json.result).toEqual({ groups: ["Bigger"] });

    // A user in 1,000 groups, seeded set-based.
    const t = api.tenant;
    await (await shardOf(t)).batch([
      (await shardOf(t))
        .prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
        INSERT INTO groups (tenant_id, id, name, name_key, member_count, created_at, updated_at) SELECT ?1, 'many-' || i, 'many ' || i, 'many ' || i, 1, 0, 0 FROM n`)
        .bind(t),
      (await shardOf(t)).prepare("INSERT INTO users (tenant_id, id, created_at, updated_at) VALUES (?1, 'joiner', 0, 0)").bind(t),
      (await shardOf(t))
        .prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
        INSERT INTO memberships (tenant_id, group_id, user_id, role, sources, added_at) SELECT ?1, 'many-' || i, 'joiner', 'member', 1, 0 FROM n`)
        .bind(t),
    ]);
    peaks["delete a user in 1,000 groups"] = await peakOf(
      async () => {
        expect((await api.del("/v1/users/joiner")).status).toBe(204);
      },
      async () => true,
    );
    const left = await (await shardOf(t))
      .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND user_id = 'joiner'")
      .bind(t)
      .first("n");
    expect(left).toBe(0);

    // No claim write was refused on any of these paths, and the claims equal D1.
    expect(kvRefusals.value - refusedBefore).toBe(0);
    for (const [user, groups] of [
      ["m0", ["Bigger"]],
      ["m9999", ["Bigger"]],
      ["ev-7", ["acct-7"]],
    ] as const) {
      expect((await env.CLAIMS.get(claimKey(t, user), "json")) as { values: string[] }, user).toMatchObject({ values: groups });
    }
    await eventually(async () => (await env.CLAIMS.get(claimKey(t, "joiner"))) === null, 10_000, 50);

    console.log(`subrequests per invocation, at most (limit ${PLATFORM_LIMITS.subrequests}): ${JSON.stringify(peaks)}`);
    for (const [path, peak] of Object.entries(peaks)) {
      expect(peak, path).toBeGreaterThan(0); // the layer counted this path
      expect(peak, path).toBeLessThanOrEqual(PLATFORM_LIMITS.subrequests);
    }
  });
});
