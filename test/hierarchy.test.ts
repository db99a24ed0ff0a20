import { describe, expect, it } from "vitest";
import { claimKey } from "../src/core/claims";
import { type Client, claimsSettled, claimsWritten, client, env, eventually, expectError, shardOf } from "./helpers";

async function groups(c: Client, ...names: string[]) {
  const ids: string[] = [];
  for (const name of names) ids.push((await c.post("/v1/groups", { name })).json.result.group_id);
  return ids;
}

const link = (c: Client, parent: string, children: string[]) => c.post(`/v1/groups/${parent}/children`, { group_ids: children });
const edgeCount = async (tenant: string) =>
  (await (await shardOf(tenant)).prepare("SELECT count(*) AS n FROM group_edges WHERE tenant_id = ?").bind(tenant).first<{ n: number }>())!
    .n;
const allPages = async (c: Client, path: string) => {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const r: any = await c.get(`${path}${path.includes("?") ? "&" : "?"}limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    out.push(...r.json.result);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
};

describe("nested groups", () => {
  it("links and unlinks children, and lists children and parents", async () => {
    const c = await client();
    const [rd, platform, storage] = await groups(c, "R&D", "Platform", "Storage");
    expect((await link(c, rd!, [platform!])).json.result).toEqual({ linked: 1, already_linked: 0 });
    expect((await link(c, platform!, [storage!, storage!])).json.result).toEqual({ linked: 1, already_linked: 0 });
    expect((await link(c, rd!, [platform!])).json.result).toEqual({ linked: 0, already_linked: 1 });

    expect((await c.get(`/v1/groups/${rd}/children`)).json.result.map((g: any) => g.name)).toEqual(["Platform"]);
    expect((await c.get(`/v1/groups/${storage}/parents`)).json.result.map((g: any) => g.name)).toEqual(["Platform"]);
    expect((await c.get(`/v1/groups/${rd}/parents`)).json.result).toEqual([]);

    expect((await c.del(`/v1/groups/${rd}/children`, { group_ids: [platform, storage] })).json.result).toEqual({
      unlinked: 1,
      not_linked: 1,
    });
    expect((await c.get(`/v1/groups/${rd}/children`)).json.result).toEqual([]);
    expect(await edgeCount(c.tenant)).toBe(1);
  });

  it("refuses cycles of length 1, 2 and 5 with 409 naming the path, changing nothing", async () => {
    const c = await client();
    const [a, b, c3, d, e] = await groups(c, "A", "B", "C", "D", "E");
    const self = await link(c, a!, [a!]);
    expectError(self, 409, "conflict");
    expect(self.json.error.message).toContain("A → A");

    await link(c, a!, [b!]);
    const two = await link(c, b!, [a!]);
    expectError(two, 409, "conflict");
    expect(two.json.error.message).toContain("B → A → B");
    expect(two.json.error.details[0].path).toEqual([b, a, b]);

    await link(c, b!, [c3!]);
    await link(c, c3!, [d!]);
    await link(c, d!, [e!]);
    const five = await link(c, e!, [a!]);
    expectError(five, 409, "conflict");
    expect(five.json.error.message).toContain("E → A → B → C → D → E");
    expect(await edgeCount(c.tenant)).toBe(4);
  });

  it("limits the depth by config, unknown and foreign ids are 404", async () => {
    const c = await client(undefined, { scope: "admin" });
    await c.patch("/v1/config", { maxHierarchyDepth: 3 });
    const [a, b, c3, d] = await groups(c, "A", "B", "C", "D");
    await link(c, a!, [b!]);
    await link(c, b!, [c3!]);
    const deep = await link(c, c3!, [d!]);
    expectError(deep, 422, "limit_exceeded");
    expect(deep.json.error.message).toMatch(/4 levels deep; this tenant allows at most 3/);

    const other = await client();
    const [foreign] = await groups(other, "Foreign");
    expectError(await link(c, a!, [foreign!]), 404, "not_found");
    expectError(await link(other, a!, [foreign!]), 404, "not_found");
    expectError(await link(c, a!, []), 400, "invalid");
    expect(await edgeCount(c.tenant)).toBe(2);
  });

  it("counts each user once in a diamond, and reads members and groups transitively", async () => {
    const c = await client();
    const [top, left, right, bottom] = await groups(c, "Top", "Left", "Right", "Bottom");
    await link(c, top!, [left!, right!]);
    await link(c, left!, [bottom!]);
    await link(c, right!, [bottom!]);
    await c.post(`/v1/groups/${bottom}/members`, { user_ids: ["u1", "u2"] });
    await c.post(`/v1/groups/${left}/members`, { user_ids: ["u2", "u3"] });
    await c.post(`/v1/groups/${top}/members`, { user_ids: ["u1"] });

    const topRead = (await c.get(`/v1/groups/${top}`)).json.result;
    expect(topRead).toMatchObject({ member_count: 1, user_count: 3, sub_group_count: 2, parent_group_count: 0 });
    const listed = (await c.get("/v1/groups")).json.result;
    expect(listed.map((g: any) => [g.name, g.member_count, g.user_count])).toEqual([
      ["Bottom", 2, 2],
      ["Left", 2, 3],
      ["Right", 0, 2],
      ["Top", 1, 3],
    ]);

    const members = await allPages(c, `/v1/groups/${top}/members?transitive=true`);
    expect(members.map((m) => [m.user_id, m.direct])).toEqual([
      ["u1", true],
      ["u2", false],
      ["u3", false],
    ]);
    // Profiles come whole through the CTE's raw rows.
    await c.patch("/v1/users/u3", { email: "u3@example.com", custom_data: { team: "left" } });
    const u3 = (await allPages(c, `/v1/groups/${top}/members?transitive=true`)).find((m) => m.user_id === "u3");
    expect(u3).toMatchObject({ email: "u3@example.com", custom_data: { team: "left" }, direct: false });
    const direct = (await c.get(`/v1/groups/${top}/members`)).json.result;
    expect(direct.map((m: any) => m.user_id)).toEqual(["u1"]);

    const held = await allPages(c, "/v1/users/u2/groups?transitive=true");
    expect(held.map((g) => [g.name, g.membership, g.role]).sort()).toEqual([
      ["Bottom", "direct", "member"],
      ["Left", "direct", "member"],
      ["Right", "inherited", null],
      ["Top", "inherited", null],
    ]);

    await c.del(`/v1/groups/${top}/children`, { group_ids: [left, right] });
    expect((await c.get(`/v1/groups/${top}/members?transitive=true`)).json.result.map((m: any) => m.user_id)).toEqual(["u1"]);
    expect((await allPages(c, "/v1/users/u2/groups?transitive=true")).map((g) => g.name).sort()).toEqual(["Bottom", "Left", "Right"]);
    expect((await c.get(`/v1/groups/${top}`)).json.result.user_count).toBe(1);
  });

  it("updates the claims of every user whose inherited groups change, after a link, unlink, rename or delete", async () => {
    const c = await client();
    const [org, team] = await groups(c, "Org", "Team");
    await c.post(`/v1/groups/${team}/members`, { user_ids: ["alice"] });
    const claim = async () => (await c.get("/v1/users/alice/claims")).json.result.groups as string[];
    expect(await claim()).toEqual(["Team"]);

    await link(c, org!, [team!]);
    await eventually(async () => JSON.stringify(await claim()) === JSON.stringify(["Org", "Team"]));
    await c.patch(`/v1/groups/${org}`, { name: "Company" });
    await eventually(async () => JSON.stringify(await claim()) === JSON.stringify(["Company", "Team"]));
    await c.del(`/v1/groups/${org}/children`, { group_ids: [team] });
    await eventually(async () => JSON.stringify(await claim()) === JSON.stringify(["Team"]));
    await link(c, org!, [team!]);
    await eventually(async () => (await claim()).length === 2);
    await c.del(`/v1/groups/${org}`);
    await eventually(async () => JSON.stringify(await claim()) === JSON.stringify(["Team"]));
    expect(await edgeCount(c.tenant)).toBe(0);
  });

  it("leaves inherited groups out of the claim when configured", async () => {
    const c = await client(undefined, { scope: "admin" });
    const [org, team] = await groups(c, "Org", "Team");
    await c.post(`/v1/groups/${team}/members`, { user_ids: ["bob"] });
    await link(c, org!, [team!]);
    await eventually(async () => (await c.get("/v1/users/bob/claims")).json.result.groups.length === 2);
    await c.patch("/v1/config", { claim: { includeInherited: false } });
    expect((await c.get("/v1/users/bob/claims")).json.result.groups).toEqual(["Team"]);
  });

  it("has the claims writer store each group once, and only held ones when inherited groups are left out", async () => {
    const c = await client(undefined, { scope: "admin" });
    const [org, team] = await groups(c, "Org", "Team");
    await link(c, org!, [team!]);
    // Held directly and through Team: one value.
    await c.post(`/v1/groups/${org}/members`, { user_ids: ["ann"] });
    await c.post(`/v1/groups/${team}/members`, { user_ids: ["ann"] });
    await claimsSettled(c, [org!, team!]);
    await claimsWritten(c.tenant);
    const stored = async () =>
      (await env.CLAIMS.get(claimKey(c.tenant, "ann"), "json")) as { values: string[]; count: number; stamp: string };
    expect(await stored()).toMatchObject({ values: ["Org", "Team"], count: 2 });
    // Ann leaves Org itself and still inherits it through Team, which the claim now leaves out: the writer stores Team's id only.
    await c.patch("/v1/config", { claim: { includeInherited: false, values: "ids" } });
    await c.del(`/v1/groups/${org}/members/ann`);
    await claimsSettled(c, [org!]);
    await claimsWritten(c.tenant);
    expect(await stored()).toMatchObject({ values: [team], count: 1, stamp: expect.stringContaining('"includeInherited":false') });
  });

  it("refuses concurrent links that together would close a cycle", async () => {
    const c = await client();
    const [a, b] = await groups(c, "A", "B");
    const [r1, r2] = await Promise.all([link(c, a!, [b!]), link(c, b!, [a!])]);
    expect([r1.status, r2.status].sort()).toEqual([200, 409]);
    expect(await edgeCount(c.tenant)).toBe(1);
  });

  it("stores the welcome message with the group, and changes it with PATCH", async () => {
    const c = await client();
    const g = (await c.post("/v1/groups", { name: "Welcomed", welcome_message: "Hi there" })).json.result;
    expect(g.welcome_message).toBe("Hi there");
    expect((await c.patch(`/v1/groups/${g.group_id}`, { welcome_message: "Hello again" })).json.result.welcome_message).toBe("Hello again");
    expect((await c.get(`/v1/groups/${g.group_id}`)).json.result.welcome_message).toBe("Hello again");
  });
});

describe("remembered subtree counts", () => {
  it("stay exact after every kind of change under the group", async () => {
    const c = await client();
    const [top, mid, leaf, other] = await groups(c, "Top", "Mid", "Leaf", "Other");
    await link(c, top!, [mid!]);
    await link(c, mid!, [leaf!]);
    await c.post(`/v1/groups/${leaf}/members`, { user_ids: ["u1", "u2"] });
    const count = async () => (await c.get(`/v1/groups/${top}`)).json.result.user_count;
    expect(await count()).toBe(2);
    expect(await count()).toBe(2); // now from the remembered count
    const cached = async () =>
      (await (
        await shardOf(c.tenant)
      )
        .prepare("SELECT user_count_cache AS n FROM groups WHERE tenant_id = ? AND id = ?")
        .bind(c.tenant, top)
        .first<{ n: number | null }>())!.n;
    expect(await cached()).toBe(2);

    await c.post(`/v1/groups/${leaf}/members`, { user_ids: ["u3"] }); // add below
    expect(await cached()).toBe(3); // adjusted in the add's own batch, not forgotten
    expect(await count()).toBe(3);
    await c.del(`/v1/groups/${leaf}/members`, { user_ids: ["u1"] }); // remove below
    expect(await count()).toBe(2);
    await c.put(`/v1/groups/${mid}/members`, { user_ids: ["u9", "u2"] }); // replace in the middle
    expect(await count()).toBe(3);
    await c.post(`/v1/groups/${other}/members`, { user_ids: ["u7", "u8"] });
    await link(c, mid!, [other!]); // link below
    expect(await count()).toBe(5);
    await c.del(`/v1/groups/${mid}/children`, { group_ids: [other] }); // unlink below
    expect(await count()).toBe(3);
    await c.del("/v1/users/u9"); // delete a user below
    expect(await count()).toBe(2);
    await c.del(`/v1/groups/${leaf}`); // delete a group below
    expect(await count()).toBe(1);
    expect((await c.get(`/v1/groups/${top}/members?transitive=true`)).json.result.map((m: any) => m.user_id)).toEqual(["u2"]);
  });
});
