// Time-bound memberships: a direct membership with expires_at is gone from every read from that
// moment, and the group's coordinator (its alarm) removes the row, refreshes claims and records it.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantScoped } from "../src/core/shared/ids";
import { type Client, call, client, env, eventually, expectError, fenceTenant, freshTenant, shardOf } from "./helpers";

const seconds = (ms: number) => Math.floor(ms / 1000);
/** An expiry `ms` ahead, in whole epoch seconds (rounded up, so it is never behind). */
const ahead = (ms: number) => Math.ceil((Date.now() + ms) / 1000);
const sleepUntil = async (epochSeconds: number) => {
  const wait = epochSeconds * 1000 - Date.now() + 20;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
};

async function setup(label = "exp"): Promise<{ api: Client; g: string }> {
  const api = await client(freshTenant(label), { scope: "admin" });
  const g = (await api.post("/v1/groups", { name: "Contractors" })).json.result.group_id as string;
  return { api, g };
}

const listed = async (api: Client, g: string) =>
  ((await api.get(`/v1/groups/${g}/members`)).json.result as { user_id: string; sources: string[]; expires_at: number | null }[]).map(
    (m) => [m.user_id, m.sources, m.expires_at],
  );
const stored = async (tenant: string, g: string) =>
  (await shardOf(tenant))
    .prepare("SELECT user_id, sources, expires_at FROM memberships WHERE tenant_id = ? AND group_id = ? ORDER BY user_id")
    .bind(tenant, g)
    .all<{ user_id: string; sources: number; expires_at: number | null }>()
    .then((r) => r.results);

describe("time-bound memberships", () => {
  it("are listed until expires_at, gone from every read from then on, and removed by the coordinator with an event", async () => {
    const { api, g } = await setup();
    const until = ahead(2_000);
    const add = await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann", "bob"], expires_at: until });
    expect(add.status, add.text).toBe(200);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["cy"] });
    expect(await listed(api, g)).toEqual([
      ["ann", ["direct"], until],
      ["bob", ["direct"], until],
      ["cy", ["direct"], null],
    ]);
    expect((await api.get("/v1/users/ann/claims")).json.result.groups).toEqual(["Contractors"]);
    expect((await api.get("/v1/users/ann/groups")).json.result[0]).toMatchObject({ group_id: g, expires_at: until });
    expect((await api.get(`/v1/groups/${g}/members/ann`)).json.result).toMatchObject({ user_id: "ann", expires_at: until });

    await sleepUntil(until);
    // From the moment it expires: not listed, not in the claim, not in the user's groups, not in SCIM.
    expect(await listed(api, g)).toEqual([["cy", ["direct"], null]]);
    expect((await api.get("/v1/users/ann/claims")).json.result.groups).toEqual([]);
    expect((await api.get("/v1/users/ann/groups")).json.result).toEqual([]);
    expect((await api.get("/v1/users/ann/groups?transitive=true")).json.result).toEqual([]);
    expect((await api.get(`/v1/groups/${g}/members/ann`)).status).toBe(404);
    const scim = await call("GET", `/scim/v2/Groups/${g}`, { token: api.token });
    expect((scim.json.members as { value: string }[]).map((m) => m.value)).toEqual(["cy"]);

    // The alarm removes the rows, the count follows, and the change stream says why.
    await eventually(async () => (await stored(api.tenant, g)).length === 1, 10_000, 100);
    expect((await api.get(`/v1/groups/${g}`)).json.result.member_count).toBe(1);
    const events = (await api.get(`/v1/events?group_id=${g}&types=group.members.removed`)).json.result;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ source: "expiry", user_ids: ["ann", "bob"], detail: { expired: true } });
    const added = (await api.get(`/v1/events?group_id=${g}&types=group.members.added`)).json.result[0];
    expect(added.detail).toMatchObject({ expires_at: until });
  });

  it("expire only the direct source: a user a rule also holds stays, through the rule", async () => {
    const { api, g } = await setup("exp-rule");
    await api.put("/v1/users/ann", { email: "ann@acme.com" });
    await api.put(`/v1/groups/${g}/rule`, { expression: 'email ew "@acme.com"' });
    const until = ahead(1_500);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"], expires_at: until });
    expect(await listed(api, g)).toEqual([["ann", ["direct", "rule"], until]]);
    await sleepUntil(until);
    expect(await listed(api, g)).toEqual([["ann", ["rule"], null]]);
    await eventually(async () => (await stored(api.tenant, g))[0]?.expires_at === null, 10_000, 100);
    expect(await stored(api.tenant, g)).toEqual([{ user_id: "ann", sources: 8, expires_at: null }]);
    expect((await api.get(`/v1/groups/${g}`)).json.result.member_count).toBe(1);
  });

  it("are extended, made permanent or set with PATCH; a rule-only member has no expiry to set (409)", async () => {
    const { api, g } = await setup("exp-patch");
    const soon = ahead(1_500);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann", "bob"], expires_at: soon });
    const later = ahead(3_600_000);
    expect((await api.patch(`/v1/groups/${g}/members/ann`, { expires_at: later })).status).toBe(204);
    expect((await api.patch(`/v1/groups/${g}/members/bob`, { expires_at: null, role: "admin" })).status).toBe(204);
    // An add without expires_at leaves an existing member's expiry as it is.
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"] });
    await sleepUntil(soon);
    expect(await listed(api, g)).toEqual([
      ["ann", ["direct"], later],
      ["bob", ["direct"], null],
    ]);
    const types = ((await api.get(`/v1/events?group_id=${g}`)).json.result as { type: string }[]).map((e) => e.type);
    expect(types).toContain("group.members.expiry_changed");
    expect(types).toContain("group.members.role_changed");

    await api.put("/v1/users/rita", { email: "rita@rules.example" });
    await api.put(`/v1/groups/${g}/rule`, { expression: 'email ew "@rules.example"' });
    const refused = await api.patch(`/v1/groups/${g}/members/rita`, { expires_at: later });
    expectError(refused, 409, "conflict");
    expect(refused.json.error.message).toMatch(/rule only/);
    expectError(await api.patch(`/v1/groups/${g}/members/nobody`, { expires_at: later }), 404, "not_found");
  });

  it("come back when added again after they expired, and a replace can set them", async () => {
    const { api, g } = await setup("exp-again");
    const until = ahead(1_200);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"], expires_at: until });
    await sleepUntil(until);
    const again = await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"] });
    expect(again.json.result).toEqual({ added: 1, already_members: 0 });
    expect(await listed(api, g)).toEqual([["ann", ["direct"], null]]);
    expect((await api.get(`/v1/groups/${g}`)).json.result.member_count).toBe(1);

    const end = ahead(3_600_000);
    const replaced = await api.put(`/v1/groups/${g}/members`, { user_ids: ["ann", "bob"], expires_at: end });
    expect(replaced.json.result).toEqual({ added: 1, removed: 0, member_count: 2 });
    expect(await listed(api, g)).toEqual([
      ["ann", ["direct"], end],
      ["bob", ["direct"], end],
    ]);
  });

  it("refuses an expiry that is not ahead of now, or not whole epoch seconds, changing nothing", async () => {
    const { api, g } = await setup("exp-bad");
    for (const expires_at of [seconds(Date.now()) - 10, 1.5, "tomorrow", 0, -5]) {
      const res = await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"], expires_at });
      expectError(res, 400, "invalid");
    }
    expectError(
      await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"], expires_at: seconds(Date.now()) + 200 * 365 * 86_400 }),
      400,
      "invalid",
    );
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["bob"] });
    expectError(await api.patch(`/v1/groups/${g}/members/bob`, {}), 400, "invalid");
    expectError(await api.patch(`/v1/groups/${g}/members/bob`, { expires_at: seconds(Date.now()) - 1 }), 400, "invalid");
    expect(await stored(api.tenant, g)).toEqual([{ user_id: "bob", sources: 1, expires_at: null }]);
  });
  // From a move's fence to its cleaning the tenant's shard refuses the removal; the expiry stays due all that time.
  it("wait while the shard refuses their removal (a move's fence), instead of the alarm firing again at once, then go", async () => {
    const { api, g } = await setup("exp-fenced");
    const until = ahead(1_000);
    expect((await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann"], expires_at: until })).status).toBe(200);
    const unfence = await fenceTenant(api.tenant);
    try {
      await sleepUntil(until);
      await new Promise((r) => setTimeout(r, 300));
      // Count the coordinator's tries to remove it over a second and a half of refusals.
      const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(tenantScoped(api.tenant, g)));
      type Counted = { expireDue: (...a: unknown[]) => Promise<unknown>; tries?: number };
      await runInDurableObject(stub, async (instance) => {
        const c = instance as unknown as Counted;
        const expire = c.expireDue.bind(c);
        c.tries = 0;
        c.expireDue = (...a) => {
          c.tries! += 1;
          return expire(...a);
        };
      });
      await new Promise((r) => setTimeout(r, 1_500));
      const tries = await runInDurableObject(stub, async (instance) => (instance as unknown as Counted).tries);
      expect(tries).toBeLessThanOrEqual(2);
      expect(await stored(api.tenant, g)).toEqual([{ user_id: "ann", sources: 1, expires_at: until * 1000 }]);
    } finally {
      await unfence();
    }
    await eventually(async () => (await stored(api.tenant, g)).length === 0, 10_000, 100);
    expect((await api.get(`/v1/groups/${g}`)).json.result.member_count).toBe(0);
  });
});
