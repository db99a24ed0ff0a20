import { describe, expect, it } from "vitest";
import { type Client, client, freshTenant, shardOf } from "./helpers";

// Remembered hierarchy counts are adjusted by membership changes, not forgotten: after
// every change they must equal a fresh walk of the sub-hierarchy.
async function truth(tenant: string, groupId: string): Promise<number> {
  const row = await (await shardOf(tenant))
    .prepare(
      `WITH RECURSIVE sub(id) AS (SELECT ?2 UNION SELECT e.child_id FROM sub s JOIN group_edges e ON e.tenant_id = ?1 AND e.parent_id = s.id)
     SELECT count(DISTINCT m.user_id) AS n FROM memberships m WHERE m.tenant_id = ?1 AND m.group_id IN (SELECT id FROM sub)`,
    )
    .bind(tenant, groupId)
    .first<{ n: number }>();
  return row!.n;
}

const remembered = async (tenant: string, groupId: string) =>
  (await shardOf(tenant))
    .prepare("SELECT user_count_cache AS c FROM groups WHERE tenant_id = ? AND id = ?")
    .bind(tenant, groupId)
    .first<{ c: number | null }>()
    .then((r) => r!.c);

/** root → a, root → b, a → c, b → c (a diamond), c → d. */
async function diamond(api: Client) {
  const make = async (name: string) => (await api.post("/v1/groups", { name })).json.result.group_id as string;
  const [root, a, b, c, d] = [await make("root"), await make("a"), await make("b"), await make("c"), await make("d")];
  for (const [p, ch] of [
    [root, a],
    [root, b],
    [a, c],
    [b, c],
    [c, d],
  ] as const) {
    expect((await api.post(`/v1/groups/${p}/children`, { group_ids: [ch] })).status).toBe(200);
  }
  return { root, a, b, c, d, all: [root, a, b, c, d] };
}

async function expectExact(api: Client, groups: string[], where: string) {
  for (const g of groups) {
    const cached = await remembered(api.tenant, g);
    expect(cached, `${where}: ${g} remembered`).not.toBeNull(); // adjusted, not forgotten
    expect(cached, `${where}: ${g}`).toBe(await truth(api.tenant, g));
    expect((await api.get(`/v1/groups/${g}`)).json.result.user_count, `${where}: ${g} as read`).toBe(await truth(api.tenant, g));
  }
}

describe("hierarchy counts adjusted by membership changes", () => {
  it("stay exact through random adds, removes and replaces across a diamond", async () => {
    const api = await client(freshTenant("counts"), { scope: "admin" });
    const g = await diamond(api);
    for (const id of g.all) await api.get(`/v1/groups/${id}`); // remember every count
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
    const pick = (k: number) => [...new Set(Array.from({ length: k }, () => users[rand(users.length)]!))];
    for (let step = 0; step < 40; step++) {
      const group = g.all[rand(g.all.length)]!;
      const op = rand(3);
      const ids = pick(1 + rand(5));
      if (op === 0) await api.post(`/v1/groups/${group}/members`, { user_ids: ids });
      else if (op === 1) await api.del(`/v1/groups/${group}/members`, { user_ids: ids });
      else await api.put(`/v1/groups/${group}/members`, { user_ids: ids });
      await expectExact(api, g.all, `step ${step} (${["add", "remove", "replace"][op]} ${ids.join(",")} on ${group})`);
    }
  });

  it("stay exact when the same users join and leave sibling groups at once (different coordinators)", async () => {
    const api = await client(freshTenant("counts"), { scope: "admin" });
    const g = await diamond(api);
    for (const id of g.all) await api.get(`/v1/groups/${id}`);
    const users = Array.from({ length: 30 }, (_, i) => `p${i}`);
    await Promise.all([
      api.post(`/v1/groups/${g.a}/members`, { user_ids: users }),
      api.post(`/v1/groups/${g.b}/members`, { user_ids: users }),
      api.post(`/v1/groups/${g.c}/members`, { user_ids: users.slice(10) }),
      api.post(`/v1/groups/${g.d}/members`, { user_ids: users.slice(0, 15) }),
    ]);
    await expectExact(api, g.all, "after concurrent adds");
    expect(await remembered(api.tenant, g.root)).toBe(30);
    await Promise.all([
      api.del(`/v1/groups/${g.a}/members`, { user_ids: users }),
      api.del(`/v1/groups/${g.d}/members`, { user_ids: users }),
      api.put(`/v1/groups/${g.b}/members`, { user_ids: users.slice(0, 5) }),
    ]);
    await expectExact(api, g.all, "after concurrent removes and a replace");
  });
});
