// ETags and conditional requests on /v1 and seed 001: If-None-Match on reads (304),
// If-Match on writes (412 with the current tag, nothing changed), member changes checked
// inside the group's coordinator.
import { describe, expect, it } from "vitest";
import { type Client, call, client, expectError, shardOf } from "./helpers";

const as = (api: Client, method: string, path: string, headers: Record<string, string>, body?: unknown) =>
  call(method, path, { token: api.token, headers, body });

async function newGroup(api: Client, name = "Team") {
  const res = await api.post("/v1/groups", { name });
  expect(res.status).toBe(201);
  return { id: res.json.result.group_id as string, etag: res.headers.get("etag")! };
}

/** A read that holds more than its row (a group, a member page): W/"<version>-<digest of the body>". */
const VIEW_TAG = (version: number) => new RegExp(`^W/"${version}-[0-9a-f]{16}"$`);

const memberIds = async (tenant: string, groupId: string) =>
  (
    await (
      await shardOf(tenant)
    )
      .prepare("SELECT user_id FROM memberships WHERE tenant_id = ? AND group_id = ? ORDER BY user_id")
      .bind(tenant, groupId)
      .all<{ user_id: string }>()
  ).results.map((r) => r.user_id);

describe("conditional requests", () => {
  it("tags a group with its version; If-None-Match answers 304 until the group or its members change", async () => {
    const api = await client();
    const g = await newGroup(api);
    expect(g.etag).toBe('W/"1"');
    const read = await api.get(`/v1/groups/${g.id}`);
    expect(read.headers.get("etag")).toMatch(VIEW_TAG(1));
    const same = await as(api, "GET", `/v1/groups/${g.id}`, { "if-none-match": read.headers.get("etag")! });
    expect(same.status).toBe(304);
    expect(same.text).toBe("");
    expect(same.headers.get("etag")).toBe(read.headers.get("etag"));

    const add = await api.post(`/v1/groups/${g.id}/members`, { user_ids: ["ann"] });
    expect(add.json.result).toEqual({ added: 1, already_members: 0 });
    expect(add.headers.get("etag")).toBe('W/"2"');
    const changed = await as(api, "GET", `/v1/groups/${g.id}`, { "if-none-match": read.headers.get("etag")! });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).toMatch(VIEW_TAG(2));
    expect(changed.json.result.user_count).toBe(1);

    const members = await api.get(`/v1/groups/${g.id}/members`);
    expect(members.headers.get("etag")).toMatch(VIEW_TAG(2));
    expect((await as(api, "GET", `/v1/groups/${g.id}/members`, { "if-none-match": members.headers.get("etag")! })).status).toBe(304);

    // A member's profile and a sub-group's members are in these answers but not in the group's version: the tag still moves.
    await api.patch("/v1/users/ann", { name: "Ann" });
    const profiles = await as(api, "GET", `/v1/groups/${g.id}/members`, { "if-none-match": members.headers.get("etag")! });
    expect(profiles.status).toBe(200);
    expect(profiles.json.result[0].name).toBe("Ann");
    expect(profiles.headers.get("etag")).toMatch(VIEW_TAG(2));
    const child = (await api.post("/v1/groups", { name: "Child" })).json.result.group_id as string;
    await api.post(`/v1/groups/${g.id}/children`, { group_ids: [child] });
    await api.post(`/v1/groups/${child}/members`, { user_ids: ["bob"] });
    const counted = await as(api, "GET", `/v1/groups/${g.id}`, { "if-none-match": changed.headers.get("etag")! });
    expect(counted.status).toBe(200);
    expect(counted.json.result.user_count).toBe(2);
    // The version part still serves If-Match.
    const byView = await as(api, "PATCH", `/v1/groups/${g.id}`, { "if-match": counted.headers.get("etag")! }, { description: "d" });
    expect(byView.status, byView.text).toBe(200);
  });

  it("refuses a group update with a stale If-Match (412, current tag, nothing changed) and applies a current one", async () => {
    const api = await client();
    const g = await newGroup(api, "Before");
    await api.post(`/v1/groups/${g.id}/members`, { user_ids: ["ann"] });
    const stale = await as(api, "PATCH", `/v1/groups/${g.id}`, { "if-match": g.etag }, { name: "After" });
    expectError(stale, 412, "precondition_failed");
    expect(stale.headers.get("etag")).toBe('W/"2"');
    expect(stale.json.error.details[0]).toMatchObject({ field: "If-Match", etag: 'W/"2"' });
    expect((await api.get(`/v1/groups/${g.id}`)).json.result.name).toBe("Before");

    const fresh = await as(api, "PATCH", `/v1/groups/${g.id}`, { "if-match": 'W/"2"' }, { name: "After" });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("etag")).toBe('W/"3"');
    expect(fresh.json.result.name).toBe("After");
    // A strong form of the same tag, and a list naming it, match too; "*" matches any version.
    expect((await as(api, "PUT", `/v1/groups/${g.id}`, { "if-match": '"1", "3"' }, { description: "d" })).status).toBe(200);
    expect((await as(api, "PATCH", `/v1/groups/${g.id}`, { "if-match": "*" }, { description: "e" })).status).toBe(200);
    // A tag that is not one of ours matches nothing.
    expectError(await as(api, "PATCH", `/v1/groups/${g.id}`, { "if-match": '"abc"' }, { description: "f" }), 412, "precondition_failed");
    expect((await api.get(`/v1/groups/${g.id}`)).json.result.description).toBe("e");

    const staleDelete = await as(api, "DELETE", `/v1/groups/${g.id}`, { "if-match": 'W/"3"' });
    expectError(staleDelete, 412, "precondition_failed");
    expect(await memberIds(api.tenant, g.id)).toEqual(["ann"]);
    expect((await as(api, "DELETE", `/v1/groups/${g.id}`, { "if-match": 'W/"5"' })).status).toBe(204);
    expect((await api.get(`/v1/groups/${g.id}`)).status).toBe(404);
  });

  it("checks member changes against the group's version inside its coordinator", async () => {
    const api = await client(undefined, { scope: "admin" });
    const g = await newGroup(api);
    const stale = await as(api, "POST", `/v1/groups/${g.id}/members`, { "if-match": 'W/"7"' }, { user_ids: ["ann"] });
    expectError(stale, 412, "precondition_failed");
    expect(stale.headers.get("etag")).toBe('W/"1"');
    expect(await memberIds(api.tenant, g.id)).toEqual([]);

    const ok = await as(api, "POST", `/v1/groups/${g.id}/members`, { "if-match": 'W/"1"' }, { user_ids: ["ann", "bob"] });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("etag")).toBe('W/"2"');
    const role = await as(api, "PATCH", `/v1/groups/${g.id}/members/ann`, { "if-match": 'W/"2"' }, { role: "admin" });
    expect(role.status).toBe(204);
    expect(role.headers.get("etag")).toBe('W/"3"');
    expectError(await as(api, "DELETE", `/v1/groups/${g.id}/members/bob`, { "if-match": 'W/"2"' }), 412, "precondition_failed");
    expectError(
      await as(api, "PUT", `/v1/groups/${g.id}/members`, { "if-match": 'W/"2"' }, { user_ids: ["cat"] }),
      412,
      "precondition_failed",
    );
    expectError(
      await as(api, "DELETE", `/v1/groups/${g.id}/members`, { "if-match": 'W/"2"' }, { user_ids: ["ann"] }),
      412,
      "precondition_failed",
    );
    expect(await memberIds(api.tenant, g.id)).toEqual(["ann", "bob"]);
    const replaced = await as(api, "PUT", `/v1/groups/${g.id}/members`, { "if-match": 'W/"3"' }, { user_ids: ["cat"] });
    expect(replaced.status).toBe(200);
    expect(replaced.headers.get("etag")).toBe('W/"4"');
    expect(await memberIds(api.tenant, g.id)).toEqual(["cat"]);
    // The log records only the changes that applied.
    const audit = await api.get(`/v1/groups/${g.id}/audit`);
    expect(audit.json.result.map((e: { action: string }) => e.action)).toEqual(["members.add", "members.role", "members.replace"]);
  });

  it("lets exactly one of many concurrent adds naming the same version apply, whatever the order", async () => {
    const api = await client();
    const g = await newGroup(api);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => as(api, "POST", `/v1/groups/${g.id}/members`, { "if-match": g.etag }, { user_ids: [`u${i}`] })),
    );
    const applied = answers.flatMap((a, i) => (a.status === 200 ? [`u${i}`] : []));
    expect(applied).toHaveLength(1);
    for (const a of answers) if (a.status !== 200) expectError(a, 412, "precondition_failed");
    expect(await memberIds(api.tenant, g.id)).toEqual(applied);
  });

  it("refuses a stale If-Match racing an unconditional member add exactly when the add came first", async () => {
    const api = await client(undefined, { scope: "admin" });
    for (let round = 0; round < 5; round++) {
      const g = await newGroup(api, `race ${round}`);
      const [conditional, plain] = await Promise.all([
        as(api, "POST", `/v1/groups/${g.id}/members`, { "if-match": g.etag }, { user_ids: ["careful"] }),
        api.post(`/v1/groups/${g.id}/members`, { user_ids: ["hasty"] }),
      ]);
      expect(plain.status).toBe(200);
      const order = (await api.get(`/v1/groups/${g.id}/audit`)).json.result.map(
        (e: { detail: { user_ids: string[] } }) => e.detail.user_ids[0],
      );
      if (conditional.status === 200) expect(order).toEqual(["careful", "hasty"]);
      else {
        expectError(conditional, 412, "precondition_failed");
        expect(order).toEqual(["hasty"]);
        expect(await memberIds(api.tenant, g.id)).toEqual(["hasty"]);
      }
    }
  });

  it("tags users, and refuses stale replaces, updates and deletions of them", async () => {
    const api = await client();
    const created = await api.put("/v1/users/ann", { name: "Ann" });
    expect(created.status).toBe(201);
    expect(created.headers.get("etag")).toBe('W/"1"');
    expect((await as(api, "GET", "/v1/users/ann", { "if-none-match": 'W/"1"' })).status).toBe(304);
    const g = await newGroup(api);
    await api.post(`/v1/groups/${g.id}/members`, { user_ids: ["ann"] });

    const patched = await as(api, "PATCH", "/v1/users/ann", { "if-match": 'W/"1"' }, { name: "Ann B" });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("etag")).toBe('W/"2"');
    for (const [method, body] of [
      ["PATCH", { name: "Lost" }],
      ["PUT", { name: "Lost" }],
      ["DELETE", undefined],
    ] as const) {
      const stale = await as(api, method, "/v1/users/ann", { "if-match": 'W/"1"' }, body);
      expectError(stale, 412, "precondition_failed");
      expect(stale.headers.get("etag")).toBe('W/"2"');
    }
    const user = await api.get("/v1/users/ann");
    expect(user.json.result.name).toBe("Ann B");
    expect(user.headers.get("etag")).toBe('W/"2"');
    expect(await memberIds(api.tenant, g.id)).toEqual(["ann"]);
    expect((await as(api, "DELETE", "/v1/users/ann", { "if-match": 'W/"2"' })).status).toBe(204);
    expect(await memberIds(api.tenant, g.id)).toEqual([]);
    // If-Match on a user that does not exist: nothing to match (404), and nothing created.
    expectError(await as(api, "PUT", "/v1/users/ghost", { "if-match": 'W/"1"' }, { name: "Ghost" }), 404, "not_found");
    expect((await api.get("/v1/users/ghost")).status).toBe(404);
  });

  it("honours the same headers on the seed-001 surface, in its error format", async () => {
    const api = await client();
    const g = await newGroup(api, "Seed");
    const read = await api.get(`/resources/groups/v1/${g.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get("etag")).toMatch(VIEW_TAG(1));
    expect((await as(api, "GET", `/resources/groups/v1/${g.id}`, { "if-none-match": read.headers.get("etag")! })).status).toBe(304);
    const added = await as(api, "POST", `/resources/groups/v1/${g.id}/users`, { "if-match": 'W/"1"' }, { userIds: ["ann"] });
    expect(added.status).toBe(200);
    expect(added.headers.get("etag")).toBe('W/"2"');
    const stale = await as(api, "PATCH", `/resources/groups/v1/${g.id}`, { "if-match": 'W/"1"' }, { name: "Lost" });
    expect(stale.status).toBe(412);
    expect(stale.json.errors[0]).toMatch(/W\/"2"/);
    expect(stale.headers.get("etag")).toBe('W/"2"');
    expect((await api.get(`/resources/groups/v1/${g.id}`)).json.name).toBe("Seed");
  });

  it("tags roles and the tenant's config, and refuses their stale writes", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const made = await admin.post("/v1/roles", { key: "editor", name: "Editor", level: 10 });
    expect(made.status).toBe(201);
    expect(made.headers.get("etag")).toBe('W/"1"');
    const id = made.json.result.role_id as string;
    expect((await as(admin, "GET", `/v1/roles/${id}`, { "if-none-match": 'W/"1"' })).status).toBe(304);
    const renamed = await as(admin, "PATCH", `/v1/roles/${id}`, { "if-match": 'W/"1"' }, { name: "Editors" });
    expect(renamed.status).toBe(200);
    expect(renamed.headers.get("etag")).toBe('W/"2"');
    const stale = await as(admin, "PATCH", `/v1/roles/${id}`, { "if-match": 'W/"1"' }, { name: "Lost" });
    expectError(stale, 412, "precondition_failed");
    expect(stale.headers.get("etag")).toBe('W/"2"');
    expectError(await as(admin, "DELETE", `/v1/roles/${id}`, { "if-match": 'W/"1"' }), 412, "precondition_failed");
    expect((await admin.get(`/v1/roles/${id}`)).json.result.name).toBe("Editors");
    expect((await as(admin, "DELETE", `/v1/roles/${id}`, { "if-match": 'W/"2"' })).status).toBe(204);

    // A tenant that never changed its config is at version 0.
    const config = await admin.get("/v1/config");
    expect(config.headers.get("etag")).toBe('W/"0"');
    expect((await as(admin, "GET", "/v1/config", { "if-none-match": 'W/"0"' })).status).toBe(304);
    const changed = await as(admin, "PATCH", "/v1/config", { "if-match": 'W/"0"' }, { maxGroupsPerUser: 50 });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).toBe('W/"1"');
    const lost = await as(admin, "PATCH", "/v1/config", { "if-match": 'W/"0"' }, { maxGroupsPerUser: 60 });
    expectError(lost, 412, "precondition_failed");
    expect(lost.headers.get("etag")).toBe('W/"1"');
    expect((await admin.get("/v1/config")).json.result.maxGroupsPerUser).toBe(50);
    // Seed 001's config is the same resource.
    const seed = await as(admin, "POST", "/resources/groups/v1/config", { "if-match": 'W/"0"' }, { maxGroupsPerUser: 70 });
    expect(seed.status).toBe(412);
    expect((await as(admin, "POST", "/resources/groups/v1/config", { "if-match": 'W/"1"' }, { maxGroupsPerUser: 70 })).status).toBe(201);
    expect((await admin.get("/v1/config")).headers.get("etag")).toBe('W/"2"');
  });

  it("checks roles put on or taken off a group against the group's version", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const g = await newGroup(admin);
    const role = (await admin.post("/v1/roles", { key: "viewer", name: "Viewer", level: 20 })).json.result.role_id as string;
    const stale = await as(admin, "POST", `/v1/groups/${g.id}/roles`, { "if-match": 'W/"9"' }, { role_ids: [role] });
    expectError(stale, 412, "precondition_failed");
    expect((await admin.get(`/v1/groups/${g.id}/roles`)).json.result).toEqual([]);
    expect((await as(admin, "POST", `/v1/groups/${g.id}/roles`, { "if-match": g.etag }, { role_ids: [role] })).status).toBe(200);
    expect((await admin.get(`/v1/groups/${g.id}`)).headers.get("etag")).toMatch(VIEW_TAG(2));
    expectError(
      await as(admin, "DELETE", `/v1/groups/${g.id}/roles`, { "if-match": g.etag }, { role_ids: [role] }),
      412,
      "precondition_failed",
    );
    const seed = await as(admin, "DELETE", `/resources/groups/v1/${g.id}/roles`, { "if-match": g.etag }, { roleIds: [role] });
    expect(seed.status).toBe(412);
    expect((await admin.get(`/v1/groups/${g.id}/roles`)).json.result).toHaveLength(1);
  });

  it("never lets another tenant learn or match a version", async () => {
    const victim = await client();
    const g = await newGroup(victim);
    const attacker = await client(`${victim.tenant}:x`);
    expectError(await as(attacker, "GET", `/v1/groups/${g.id}`, { "if-none-match": g.etag }), 404, "not_found");
    expectError(await as(attacker, "PATCH", `/v1/groups/${g.id}`, { "if-match": g.etag }, { name: "Mine" }), 404, "not_found");
    expectError(await as(attacker, "POST", `/v1/groups/${g.id}/members`, { "if-match": g.etag }, { user_ids: ["x"] }), 404, "not_found");
    expect(await memberIds(victim.tenant, g.id)).toEqual([]);
    expect((await victim.get(`/v1/groups/${g.id}`)).json.result.name).toBe("Team");
  });
});
