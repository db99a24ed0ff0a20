import { describe, expect, it } from "vitest";
import { call, client, env, eventually, freshTenant, token } from "./helpers";
import { peakSubrequests } from "./limits/entry";
import { limitedEnv, newInvocation, PLATFORM_LIMITS } from "./limits/platform-limits";

describe("the limits layer refuses what production refuses", () => {
  it("a statement binding over 100 values, one over 100 KB, a value over 2 MB, and the 1,001st subrequest", async () => {
    const limited = limitedEnv(env, newInvocation());
    const values = Array.from({ length: 101 }, (_, i) => i);
    expect(() => limited.DB.prepare(`SELECT ${values.map(() => "?").join(", ")}`).bind(...values)).toThrow(/too many SQL variables/);
    expect(() => limited.DB.prepare(`SELECT '${"x".repeat(PLATFORM_LIMITS.d1StatementBytes)}'`)).toThrow(/statement too long/);
    expect(() => limited.DB.prepare("SELECT ?").bind("x".repeat(PLATFORM_LIMITS.d1ValueBytes + 1))).toThrow(/too big/);
    expect(
      await limited.DB.prepare(
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
    const pending = (gid: string) => async () => (await api.get(`/v1/groups/${gid}/claims-status`)).json.result.pending_refreshes === 0;
    const big = (await api.post("/v1/groups", { name: "Big" })).json.result.group_id;
    const peaks: Record<string, number> = {};

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
      async () => (await Promise.all(Array.from({ length: 20 }, (_, k) => pending(`acct-${k}`)()))).every(Boolean),
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
    await env.DB.batch([
      env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
        INSERT INTO groups (tenant_id, id, name, name_key, member_count, created_at, updated_at) SELECT ?1, 'many-' || i, 'many ' || i, 'many ' || i, 1, 0, 0 FROM n`).bind(
        t,
      ),
      env.DB.prepare("INSERT INTO users (tenant_id, id, created_at, updated_at) VALUES (?1, 'joiner', 0, 0)").bind(t),
      env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
        INSERT INTO memberships (tenant_id, group_id, user_id, role, source, added_at) SELECT ?1, 'many-' || i, 'joiner', 'member', 'api', 0 FROM n`).bind(
        t,
      ),
    ]);
    peaks["delete a user in 1,000 groups"] = await peakOf(
      async () => {
        expect((await api.del("/v1/users/joiner")).status).toBe(204);
      },
      async () => true,
    );
    const left = await env.DB.prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND user_id = 'joiner'")
      .bind(t)
      .first("n");
    expect(left).toBe(0);

    console.log(`subrequests per invocation, at most (limit ${PLATFORM_LIMITS.subrequests}): ${JSON.stringify(peaks)}`);
    for (const [path, peak] of Object.entries(peaks)) {
      expect(peak, path).toBeGreaterThan(0); // the layer counted this path
      expect(peak, path).toBeLessThanOrEqual(PLATFORM_LIMITS.subrequests);
    }
  });
});
