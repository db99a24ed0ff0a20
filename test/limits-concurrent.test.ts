// The tenant's groups-per-user limit holds when one user is added to many groups at once.
// Each group's coordinator checks the limit from its own read, and different groups'
// coordinators run side by side, so the check is made again in the batch that writes:
// adds that would take the user past the limit are refused (422), whichever path adds.
import { describe, expect, it } from "vitest";
import { analyticsWriteKey, type Client, call, client, expectError } from "./helpers";

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
