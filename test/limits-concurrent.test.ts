// The tenant's limits hold under concurrent writes. Each is checked from a read before the
// write, and writes of other groups (other coordinators) or other requests land between, so
// the batch that writes checks again: groups per user (whichever path adds the user), API
// keys and membership rules per tenant. What goes past a limit is refused (422).
import { describe, expect, it } from "vitest";
import { analyticsWriteKey, type Client, call, client, expectError, shardOf } from "./helpers";

const LIMIT = 3;
const GROUPS = 10;

async function tenantWithGroups(admin: Client) {
  expect((await admin.patch("/v1/config", { maxGroupsPerUser: LIMIT })).status).toBe(200);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) groups.push((await admin.post("/v1/groups", { name: `Team ${i}` })).json.result.group_id);
  return groups;
}

const groupsOf = async (admin: Client, user: string) =>
  ((await admin.get(`/v1/users/${user}/groups`)).json.result as { group_id: string }[]).map((g) => g.group_id).sort();

describe("the groups-per-user limit under concurrent adds to different groups", () => {
  it("refuses the adds past the limit, through the native add and replace", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const groups = await tenantWithGroups(admin);
    for (const [user, send] of [
      ["added", (g: string) => admin.post(`/v1/groups/${g}/members`, { user_ids: ["added"] })],
      ["replaced", (g: string) => admin.put(`/v1/groups/${g}/members`, { user_ids: ["replaced"] })],
    ] as const) {
      const answers = await Promise.all(groups.map(send));
      const ok = groups.filter((_, i) => answers[i]!.status === 200);
      for (const res of answers) if (res.status !== 200) expectError(res, 422, "limit_exceeded");
      expect(ok, `${user}: ${answers.map((a) => a.status)}`).toHaveLength(LIMIT);
      // The stored state agrees with the answers: the user is in exactly the groups that said so, and their counts say it.
      expect(await groupsOf(admin, user)).toEqual(ok.sort());
      for (const g of groups) {
        const counted = (await admin.get(`/v1/groups/${g}`)).json.result.member_count;
        expect(counted, `${user} in ${g}`).toBe(ok.includes(g) ? 1 : 0);
        // Free the group for the next path.
        if (ok.includes(g)) expect((await admin.del(`/v1/groups/${g}/members`, { user_ids: [user] })).status).toBe(200);
      }
    }
  });

  it("keeps the user within the limit through analytics group calls", async () => {
    const { admin, key } = await analyticsWriteKey();
    const groups = await tenantWithGroups(admin);
    const auth = { authorization: `Basic ${btoa(`${key}:`)}` };
    // Groups that exist, and groups the calls create (the path that reads before it writes).
    for (const [user, ids] of [
      ["tracked", groups],
      ["tracked-new", groups.map((_, i) => `made-by-call-${i}`)],
    ] as const) {
      const answers = await Promise.all(
        ids.map((groupId) => call("POST", "/v1/group", { headers: auth, body: { userId: user, groupId, traits: { plan: "x" } } })),
      );
      for (const res of answers) expect(res.status, res.text).toBe(200);
      expect(await groupsOf(admin, user), user).toHaveLength(LIMIT);
    }
  });
});

describe("the tenant's count limits under concurrent creation", () => {
  it("never holds more than 100 unrevoked API keys", async () => {
    const admin = await client(undefined, { scope: "admin" });
    for (let i = 0; i < 95; i++) expect((await admin.post("/v1/api-keys", { name: `key ${i}`, scopes: ["groups:read"] })).status).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => admin.post("/v1/api-keys", { name: `racing ${i}`, scopes: ["groups:read"] })),
    );
    const made = answers.filter((a) => a.status === 201);
    for (const res of answers) if (res.status !== 201) expectError(res, 422, "limit_exceeded");
    expect(made).toHaveLength(5);
    const keys = (await admin.get("/v1/api-keys")).json.result as { revoked_at: number | null }[];
    expect(keys.filter((k) => k.revoked_at === null)).toHaveLength(100);
  });

  it("never holds more than 500 membership rules", async () => {
    const admin = await client(undefined, { scope: "admin" });
    // 497 rules already, on groups of their own (rows as the rule routes write them).
    await (await shardOf(admin.tenant))
      .prepare(
        `INSERT INTO group_rules (tenant_id, group_id, expression, paused, created_by, created_at, updated_at)
         SELECT ?, 'seeded-' || value, 'user_id pr', 1, 'test', 0, 0 FROM json_each(?)`,
      )
      .bind(admin.tenant, JSON.stringify(Array.from({ length: 497 }, (_, i) => i)))
      .run();
    const groups: string[] = [];
    for (let i = 0; i < 10; i++) groups.push((await admin.post("/v1/groups", { name: `Ruled ${i}` })).json.result.group_id);
    const answers = await Promise.all(groups.map((g) => admin.put(`/v1/groups/${g}/rule`, { expression: "user_id pr", paused: true })));
    for (const res of answers) if (res.status !== 201) expectError(res, 422, "limit_exceeded");
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    const { n } = (await (
      await shardOf(admin.tenant)
    )
      .prepare("SELECT count(*) AS n FROM group_rules WHERE tenant_id = ?")
      .bind(admin.tenant)
      .first<{ n: number }>())!;
    expect(n).toBe(500);
  });
});
