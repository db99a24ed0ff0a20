import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { eventPage } from "../src/api/native/event-schemas";
import { EVENT_LIMITS, EVENTS_SCANNED, lightEventsQuery, ROW_FIXED_BYTES } from "../src/core/events";
import { isoTime } from "../src/core/shared/time";
import { LIGHT_EVENT_WEIGHT } from "../src/db/schema";
import { arrangeEvents, call, client, expectError, freshTenant, runCron, seeded, shardOf, token } from "./helpers";

// GET /v1/events: every change of the tenant, from every surface, in the order it landed,
// each written in the same D1 batch as its change.
const SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async function feed(api: { get: (p: string) => Promise<any> }, query = "") {
  const r = await api.get(`/v1/events${query}`);
  expect(r.status, r.text).toBe(200);
  return r.json as { result: any[]; next_cursor: string; has_more: boolean };
}
const eventCount = async (tenant: string) =>
  (await (await shardOf(tenant)).prepare("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ?").bind(tenant).first<{ n: number }>())!.n;

describe("the change stream", () => {
  it("lists the changes of every surface in the order they landed, with who, through what, and what changed", async () => {
    const tenant = freshTenant("ev");
    const api = await client(tenant, { scope: "admin", sub: "ops-admin" });
    const g = (await api.post("/v1/groups", { name: "Sales", description: "EMEA" })).json.result.group_id;
    expect((await api.patch(`/v1/groups/${g}`, { name: "Sales EMEA" })).status).toBe(200);
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["ann", "bob"] });
    await api.put("/v1/users/cy", { name: "Cy" }); // SCIM adds only users it knows
    const scim = await token({ tenant, scope: "scim", sub: "entra" });
    const sg = await call("POST", "/scim/v2/Groups", { token: scim, body: { schemas: [SCIM_GROUP], displayName: "Engineering" } });
    expect(sg.status).toBe(201);
    const patched = await call("PATCH", `/scim/v2/Groups/${sg.json.id}`, {
      token: scim,
      body: { schemas: [SCIM_PATCH], Operations: [{ op: "add", path: "members", value: [{ value: "cy" }] }] },
    });
    expect(patched.status, patched.text).toBeLessThan(300);
    const seed = await call("POST", `/resources/groups/v1/${g}/users`, { token: api.token, body: { userIds: ["dee"] } });
    expect(seed.status, seed.text).toBe(200);
    const tracking = await token({ tenant, scope: "group_api", sub: "web" });
    const ingest = await call("POST", "/api/group", {
      token: tracking,
      body: [{ user_id: "eve", group_id: "acct-1", timestamp: "2024-01-01T00:00:00Z", traits: { group_type: "Account", plan: "pro" } }],
    });
    expect(ingest.json).toMatchObject({ success: true });
    await api.post(`/v1/groups/${g}/children`, { group_ids: [sg.json.id] });
    const role = (await api.post("/v1/roles", { key: "lead", name: "Lead", level: 5 })).json.result.role_id;
    await api.post(`/v1/groups/${g}/roles`, { role_ids: [role] });
    await api.del(`/v1/groups/${g}/members/bob`);
    await api.del("/v1/groups/acct-1");

    const page = await feed(api);
    expect(page.has_more).toBe(false);
    // D1 builds the events' JSON: it must be what the OpenAPI document says.
    expect(eventPage.safeParse(page).error).toBeUndefined();
    expect(page.result.every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.occurred_at))).toBe(true);
    expect(page.result[0].user_ids).toBeUndefined();
    expect(page.result[3].before).toBeUndefined();
    const seen = page.result.map((e) => [e.type, e.source, e.group_id]);
    expect(seen).toEqual([
      ["group.created", "native", g],
      ["group.updated", "native", g],
      ["user.created", "native", null], // ann and bob: bare profiles made by the add
      ["group.members.added", "native", g],
      ["user.created", "native", null],
      ["group.created", "scim", sg.json.id],
      ["group.members.added", "scim", sg.json.id],
      ["user.created", "seed-001", null],
      ["group.members.added", "seed-001", g],
      ["group.created", "analytics", "acct-1"],
      ["user.created", "analytics", null],
      ["group.members.added", "analytics", "acct-1"],
      ["group.traits.changed", "analytics", "acct-1"],
      ["group.updated", "analytics", "acct-1"], // group_type Account: the group's type follows its trait
      ["group.children.linked", "native", g],
      ["group.roles.assigned", "native", g],
      ["group.members.removed", "native", g],
      ["group.deleted", "native", "acct-1"],
    ]);
    const cursors = page.result.map((e) => Number(e.cursor));
    expect([...cursors].sort((a, b) => a - b)).toEqual(cursors);
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(page.next_cursor).toBe(String(cursors.at(-1)));
    const [created, updated, bare, added] = page.result;
    expect(bare).toMatchObject({ actor: "ops-admin", user_ids: ["ann", "bob"], detail: { group_id: g } });
    expect(created).toMatchObject({ actor: "ops-admin", after: { name: "Sales", description: "EMEA", type: "Group" } });
    expect(Date.parse(created.occurred_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(updated).toMatchObject({ before: { name: "Sales" }, after: { name: "Sales EMEA" } });
    expect(added).toMatchObject({ user_ids: ["ann", "bob"], detail: { role: "member" } });
    expect(page.result[4]).toMatchObject({ user_ids: ["cy"], after: { name: "Cy" } });
    expect(page.result[6]).toMatchObject({ actor: "entra", user_ids: ["cy"] });
    expect(page.result[7]).toMatchObject({ user_ids: ["dee"], detail: { group_id: g } });
    expect(page.result[10]).toMatchObject({ actor: "web", user_ids: ["eve"], detail: { group_id: "acct-1" } });
    expect(page.result[13]).toMatchObject({ before: { type: "Group" }, after: { type: "Account" } });
    expect(page.result[14].detail).toEqual({ child_ids: [sg.json.id] });
    expect(page.result[15].detail).toEqual({ role_ids: [role] });
  });

  it("filters by type, group and user, pages by cursor, and resumes where it left off", async () => {
    const api = await client(freshTenant("ev-f"), { scope: "admin" });
    const a = (await api.post("/v1/groups", { name: "A" })).json.result.group_id;
    const b = (await api.post("/v1/groups", { name: "B" })).json.result.group_id;
    for (let i = 0; i < 5; i++) await api.post(`/v1/groups/${i % 2 ? a : b}/members`, { user_ids: [`u${i}`, "both"] });
    await api.post(`/v1/groups/${a}/children`, { group_ids: [b] });

    // "both" joins b on the first add and a on the second; after that it is already a member, named apart from those who join.
    const adds = await feed(api, "?types=group.members.added");
    expect(adds.result.map((e) => [e.user_ids, e.detail.already_members])).toEqual(
      [0, 1, 2, 3, 4].map((i) => (i < 2 ? [[`u${i}`, "both"], undefined] : [[`u${i}`], ["both"]])),
    );
    const ofB = await feed(api, `?group_id=${b}`);
    expect(ofB.result.map((e) => e.type)).toEqual([
      "group.created",
      "group.members.added",
      "group.members.added",
      "group.members.added",
      "group.children.linked", // b as the linked child
    ]);
    const ofU3 = await feed(api, "?user_id=u3");
    expect(ofU3.result.map((e) => [e.type, e.group_id])).toEqual([
      ["user.created", null],
      ["group.members.added", a],
    ]);
    // "both" was new only to the first add: one user.created per user, from the call that brought it.
    const made = await feed(api, "?types=user.created");
    expect(made.result.map((e) => [e.user_ids, e.detail.group_id])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [i === 0 ? ["u0", "both"] : [`u${i}`], i % 2 ? a : b]),
    );
    const both = await feed(api, `?user_id=both&group_id=${a}&types=group.members.added,group.members.removed`);
    expect(both.result).toHaveLength(2);

    // Pages of 3: the second resumes after the first's next_cursor; a poll after the end answers nothing and keeps its place.
    const first = await feed(api, "?limit=3");
    expect(first).toMatchObject({ has_more: true });
    expect(first.result).toHaveLength(3);
    const rest = await feed(api, `?limit=3&after=${first.next_cursor}`);
    const all = await feed(api);
    expect([...first.result, ...rest.result].map((e) => e.id)).toEqual(all.result.slice(0, 6).map((e) => e.id));
    const caughtUp = await feed(api, `?after=${all.next_cursor}`);
    expect(caughtUp).toEqual({ result: [], next_cursor: all.next_cursor, has_more: false });
    // A new change shows up on the next poll from that place.
    await api.del(`/v1/groups/${a}/members/u1`);
    const next = await feed(api, `?after=${all.next_cursor}`);
    expect(next.result.map((e) => [e.type, e.user_ids])).toEqual([["group.members.removed", ["u1"]]]);
  });

  it("records nothing for a change that fails, and one event per change that lands", async () => {
    const tenant = freshTenant("ev-fail");
    const api = await client(tenant, { scope: "admin" });
    const g = (await api.post("/v1/groups", { name: "Kept" })).json.result.group_id;
    await api.post("/v1/groups", { name: "Other" });
    const before = await eventCount(tenant);
    const stale = await call("PATCH", `/v1/groups/${g}`, { token: api.token, body: { name: "New" }, headers: { "if-match": 'W/"999"' } });
    expect(stale.status).toBe(412);
    expectError(await api.patch(`/v1/groups/${g}`, { name: "other" }), 409, "conflict");
    expectError(await api.post("/v1/groups", { name: "kept" }), 409, "conflict");
    expectError(await api.post("/v1/groups/nope/members", { user_ids: ["x"] }), 404, "not_found");
    const staleConfig = await call("PATCH", "/v1/config", {
      token: api.token,
      body: { eventRetentionDays: 7 },
      headers: { "if-match": 'W/"999"' },
    });
    expect(staleConfig.status).toBe(412);
    expectError(await api.del("/v1/api-keys/nope"), 404, "not_found");
    expectError(await api.del("/v1/users/nobody"), 404, "not_found");
    expect(await eventCount(tenant)).toBe(before);
    // Concurrent adds to one group: one event each, in the order the group's coordinator applied them.
    await Promise.all(Array.from({ length: 20 }, (_, i) => api.post(`/v1/groups/${g}/members`, { user_ids: [`p${i}`] })));
    const rows = (
      await (
        await shardOf(tenant)
      )
        .prepare("SELECT cursor, seq FROM audit_log WHERE tenant_id = ? AND action = 'members.add' ORDER BY cursor")
        .bind(tenant)
        .all<{ cursor: number; seq: number }>()
    ).results;
    expect(rows).toHaveLength(20);
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
  });

  it("records nothing and keeps the version for a write that changes nothing, on every surface", async () => {
    const tenant = freshTenant("ev-noop");
    const api = await client(tenant, { scope: "admin" });
    const made = await api.post("/v1/groups", { name: "Kept", description: "d", custom_data: { a: 1 } });
    const g = made.json.result.group_id;
    expect((await api.put("/v1/users/zoe", { email: "zoe@example.com", name: "Zoe" })).status).toBe(201);
    const scim = await token({ tenant, scope: "scim" });
    const scimPatch = (path: string, op: unknown) =>
      call("PATCH", path, {
        token: scim,
        body: { schemas: [SCIM_PATCH], Operations: [op] },
        headers: { "content-type": "application/scim+json" },
      });
    expect((await api.patch("/v1/config", { eventRetentionDays: 14 })).status).toBe(200);
    const hook = (await api.post("/v1/webhooks", { url: "https://hooks.example.com/in", types: ["group.created"] })).json.result;
    const role = (await api.post("/v1/roles", { key: "lead", name: "Lead", level: 5 })).json.result;
    const before = await eventCount(tenant);

    const settings = [
      await api.patch("/v1/config", { eventRetentionDays: 14, claim: { name: "groups" } }),
      await api.patch(`/v1/webhooks/${hook.webhook_id}`, { url: "https://hooks.example.com/in", types: ["group.created"], paused: false }),
      await api.patch(`/v1/roles/${role.role_id}`, { name: "Lead", level: 5 }),
    ];
    expect(settings.map((r) => [r.status, r.headers.get("etag")])).toEqual([
      [200, 'W/"1"'],
      [200, null],
      [200, 'W/"1"'],
    ]);
    expect(settings[1]!.json.result).toMatchObject({ url: "https://hooks.example.com/in", types: ["group.created"], paused: false });

    const unchanged = [
      await api.patch(`/v1/groups/${g}`, {}),
      await api.patch(`/v1/groups/${g}`, { name: "Kept", custom_data: { a: 1 } }),
      await api.put(`/v1/groups/${g}`, { name: "Kept", description: "d", custom_data: { a: 1 } }),
      await call("PATCH", `/resources/groups/v1/${g}`, { token: api.token, body: {} }),
      await scimPatch(`/scim/v2/Groups/${g}`, { op: "replace", path: "displayName", value: "Kept" }),
      await api.put("/v1/users/zoe", { email: "zoe@example.com", name: "Zoe" }),
      await api.patch("/v1/users/zoe", {}),
      await api.patch("/v1/users/zoe", { name: "Zoe" }),
    ];
    expect(unchanged.map((r) => [r.status, r.headers.get("etag")])).toEqual([
      [200, 'W/"1"'],
      [200, 'W/"1"'],
      [200, 'W/"1"'],
      [200, 'W/"1"'],
      [204, 'W/"1"'],
      [200, 'W/"1"'],
      [200, 'W/"1"'],
      [200, 'W/"1"'],
    ]);
    expect((await api.get(`/v1/groups/${g}`)).json.result).toMatchObject({ name: "Kept", description: "d", custom_data: { a: 1 } });
    // If-Match still holds a write that would change nothing to the version it names.
    const stale = { "if-match": 'W/"7"' };
    expect((await call("PATCH", `/v1/groups/${g}`, { token: api.token, body: { name: "Kept" }, headers: stale })).status).toBe(412);
    expect((await call("PATCH", "/v1/users/zoe", { token: api.token, body: { name: "Zoe" }, headers: stale })).status).toBe(412);
    expect(
      (await call("PUT", "/v1/users/zoe", { token: api.token, body: { email: "zoe@example.com", name: "Zoe" }, headers: stale })).status,
    ).toBe(412);
    const staleRole = await call("PATCH", `/v1/roles/${role.role_id}`, { token: api.token, body: { name: "Lead" }, headers: stale });
    expect(staleRole.status).toBe(412);
    const staleConfig = await call("PATCH", "/v1/config", { token: api.token, body: { eventRetentionDays: 14 }, headers: stale });
    expect(staleConfig.status).toBe(412);
    // A write that would change nothing on a user that does not exist is still 404, and makes no one.
    expectError(await api.patch("/v1/users/nobody", {}), 404, "not_found");
    expectError(await api.patch("/v1/users/nobody", { name: null }), 404, "not_found");
    expect((await api.get("/v1/users/nobody")).status).toBe(404);
    expect(await eventCount(tenant)).toBe(before);

    // A change of case is a change; only the fields that changed are shown.
    const renamed = await api.patch(`/v1/groups/${g}`, { name: "KEPT", description: "d" });
    expect([renamed.status, renamed.headers.get("etag")]).toEqual([200, 'W/"2"']);
    const user = await api.patch("/v1/users/zoe", { name: "Zoe Q" });
    expect([user.status, user.headers.get("etag")]).toEqual([200, 'W/"2"']);
    const page = await feed(api, "?types=group.updated,user.updated");
    expect(page.result.map((e) => [e.type, e.before, e.after])).toEqual([
      ["group.updated", { name: "Kept" }, { name: "KEPT" }],
      ["user.updated", { name: "Zoe" }, { name: "Zoe Q" }],
    ]);
  });

  it("refuses bad input, a credential without the scope, and shows one tenant only its own events", async () => {
    const api = await client(freshTenant("ev-bad"), { scope: "admin" });
    await api.post("/v1/groups", { name: "Mine" });
    expectError(await api.get("/v1/events?after=abc"), 400, "invalid");
    const unknown = await api.get("/v1/events?types=group.created,group.exploded");
    expectError(unknown, 400, "invalid");
    expect(unknown.json.error.details[0].message).toContain("group.exploded");
    expectError(await api.get("/v1/events?limit=0"), 400, "invalid");
    expectError(await api.get("/v1/events?limit=1001"), 400, "invalid");
    expectError(await api.get("/v1/events?user_id=a%20b"), 400, "invalid");
    expect((await call("GET", "/v1/events")).status).toBe(401);
    const reader = await client(api.tenant, { scope: "groups:read" });
    expectError(await reader.get("/v1/events"), 403, "forbidden");
    const watcher = await client(api.tenant, { scope: "events:read" });
    expect((await feed(watcher)).result.map((e) => e.type)).toEqual(["group.created"]);
    const other = await client(freshTenant("ev-other"), { scope: "admin" });
    expect((await feed(other)).result).toEqual([]);
  });

  it("records users, the tenant's config and API keys: created, updated with before and after, deleted, revoked", async () => {
    const tenant = freshTenant("ev-u");
    const api = await client(tenant, { scope: "admin" });
    const g1 = (await api.post("/v1/groups", { name: "One" })).json.result.group_id;
    const g2 = (await api.post("/v1/groups", { name: "Two" })).json.result.group_id;
    const start = (await feed(api)).next_cursor;
    expect((await api.put("/v1/users/zoe", { email: "zoe@example.com", name: "Zoe" })).status).toBe(201);
    expect((await api.put("/v1/users/zoe", { email: "zoe@example.com", name: "Zoe Q" })).status).toBe(200);
    expect((await api.patch("/v1/users/zoe", { custom_data: { team: "red" } })).status).toBe(200);
    const stale = await call("PATCH", "/v1/users/zoe", { token: api.token, body: { name: "No" }, headers: { "if-match": 'W/"1"' } });
    expect(stale.status).toBe(412);
    await api.post(`/v1/groups/${g1}/members`, { user_ids: ["zoe"] });
    await api.post(`/v1/groups/${g2}/members`, { user_ids: ["zoe"] });
    expect((await api.del("/v1/users/zoe")).status).toBe(204);
    expect((await api.patch("/v1/config", { claim: { name: "teams" } })).status).toBe(200);
    const key = (await api.post("/v1/api-keys", { name: "ci", scopes: ["events:read"] })).json.result;
    expect((await api.del(`/v1/api-keys/${key.key_id}`)).status).toBe(200);
    expect((await api.del(`/v1/api-keys/${key.key_id}`)).status).toBe(200); // revoking again changes nothing

    const page = await feed(api, `?after=${start}`);
    expect(page.result.map((e) => e.type)).toEqual([
      "user.created",
      "user.updated",
      "user.updated",
      "group.members.added",
      "group.members.added",
      "user.deleted",
      "config.updated",
      "api_key.created",
      "api_key.revoked",
    ]);
    const [created, replaced, patched, , , deleted, config, keyCreated] = page.result;
    expect(created).toMatchObject({ user_ids: ["zoe"], group_id: null, after: { email: "zoe@example.com", name: "Zoe", custom_data: {} } });
    expect(replaced).toMatchObject({ before: { name: "Zoe" }, after: { name: "Zoe Q" } });
    expect(patched).toEqual(expect.objectContaining({ before: { custom_data: {} }, after: { custom_data: { team: "red" } } }));
    expect(deleted).toMatchObject({ user_ids: ["zoe"], detail: { group_ids: expect.arrayContaining([g1, g2]) } });
    expect(config).toMatchObject({ before: { claim: { name: "groups" } }, after: { claim: { name: "teams" } } });
    expect(keyCreated).toMatchObject({ after: { name: "ci", scopes: ["events:read"] } });
    expect(JSON.stringify(page.result)).not.toContain(key.secret);
    // A user's own history, whatever wrote it.
    const ofZoe = await feed(api, `?user_id=zoe&after=${start}`);
    expect(ofZoe.result.map((e) => e.type)).toEqual(page.result.slice(0, 6).map((e) => e.type));
  });

  it("names the surface of every change: SCIM and analytics create users too", async () => {
    const tenant = freshTenant("ev-s");
    const api = await client(tenant, { scope: "admin" });
    const scim = await token({ tenant, scope: "scim", sub: "okta" });
    const made = await call("POST", "/scim/v2/Users", {
      token: scim,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "kim@example.com" },
    });
    expect(made.status).toBe(201);
    const tracking = await token({ tenant, scope: "group_api", sub: "web" });
    const identify = await call("POST", "/v1/identify", { token: tracking, body: { userId: "lee", traits: { email: "lee@example.com" } } });
    expect(identify.status).toBe(200);
    const page = await feed(api);
    expect(page.result.map((e) => [e.type, e.source, e.actor, e.user_ids])).toEqual([
      ["user.created", "scim", "okta", [made.json.id]],
      ["user.created", "analytics", "web", ["lee"]],
    ]);
  });
});

describe("an event's wire shape, as SQLite builds it", () => {
  it("has exactly the documented keys: user_ids from a list, one user or a user target; before/after only when stored; times to the millisecond", async () => {
    // Quotes, a backslash, control characters and characters beyond ASCII in strings the page packs as JSON (an id, an actor).
    const UNUSUAL = 'u\'1 "q" \\ \n\t\u0001 é 😀';
    const tenant = freshTenant("ev-shape");
    const api = await client(tenant, { scope: "admin" });
    const rows: [string, number, string, string, string, unknown][] = [
      ["a", 1795698089001, "members.add", "group", "g1", { user_ids: ["u1", "u2"], role: "member" }],
      ["b", 1795698089999, "members.role", "group", "g1", { user_id: "u1", role: "admin" }],
      ["c", 1795698090500, "user.update", "user", UNUSUAL, { before: { name: null }, after: { name: "O'Neil" } }],
      ["d", 86_400_000, "hierarchy.link", "hierarchy", "p", { child_ids: ["c1"] }],
      ["e", 1795698091000, "key.create", "key", "k1", {}],
    ];
    for (const [id, at, action, type, target, detail] of rows) {
      await (await shardOf(tenant))
        .prepare(
          "INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, detail) VALUES (?, ?, ?, ?, 'native', ?, ?, ?, ?)",
        )
        // The actor is a credential's subject, which a tenant's own token names: row c's is as unusual as its target.
        .bind(tenant, id, at, id === "c" ? UNUSUAL : "ops", action, type, target, JSON.stringify(detail))
        .run();
    }
    const page = (await api.get("/v1/events")).json;
    expect(eventPage.safeParse(page).error).toBeUndefined();
    const common = { actor: "ops", source: "native" };
    expect(page.result.map(({ cursor, ...e }: { cursor: string }) => e)).toEqual([
      {
        id: "a",
        type: "group.members.added",
        occurred_at: "2026-11-26T13:01:29.001Z",
        group_id: "g1",
        user_ids: ["u1", "u2"],
        detail: { role: "member" },
        ...common,
      },
      {
        id: "b",
        type: "group.members.role_changed",
        occurred_at: "2026-11-26T13:01:29.999Z",
        group_id: "g1",
        user_ids: ["u1"],
        detail: { role: "admin" },
        ...common,
      },
      {
        id: "c",
        type: "user.updated",
        occurred_at: "2026-11-26T13:01:30.500Z",
        group_id: null,
        user_ids: [UNUSUAL],
        before: { name: null },
        after: { name: "O'Neil" },
        detail: {},
        ...common,
        actor: UNUSUAL,
      },
      {
        id: "d",
        type: "group.children.linked",
        occurred_at: "1970-01-02T00:00:00.000Z",
        group_id: "p",
        detail: { child_ids: ["c1"] },
        ...common,
      },
      { id: "e", type: "api_key.created", occurred_at: "2026-11-26T13:01:31.000Z", group_id: null, detail: {}, ...common },
    ]);
    for (const e of page.result) expect(new Date(e.occurred_at).toISOString()).toBe(e.occurred_at);
    // Keys absent, not null, when the stored detail has none of them.
    expect(Object.keys(page.result[4])).toEqual(["id", "cursor", "type", "occurred_at", "actor", "source", "group_id", "detail"]);
  });

  it("writes every time exactly as toISOString does, the minute's prefix formatted once", () => {
    const edges = [0, 9, 10, 99, 100, 999, 59_999, 60_000, 86_399_999, -1, -60_001, -62_167_219_200_000, 253_402_300_799_999];
    const outside = [-62_167_219_200_001, 253_402_300_800_000, 1.5];
    // Random times over four centuries, then runs inside one minute as a page's events come.
    const random = seeded(12_345);
    const spread = Array.from({ length: 5_000 }, () => Math.floor(random() * 12_622_780_800_000) - 3_155_760_000_000);
    const runs = Array.from({ length: 2_000 }, (_, i) => 1_795_698_089_000 + i * 37);
    for (const ms of [...edges, ...outside, ...spread, ...runs]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});

describe("the change stream's retention", () => {
  it("forgets each tenant's events past its eventRetentionDays, and answers 410 to a reader resuming from before them", async () => {
    const short = await client(freshTenant("ev-r"), { scope: "admin" });
    const long = await client(freshTenant("ev-r-long"), { scope: "admin" });
    expectError(await short.patch("/v1/config", { eventRetentionDays: 0 }), 400, "invalid");
    expectError(await short.patch("/v1/config", { eventRetentionDays: 3651 }), 400, "invalid");
    expect((await short.patch("/v1/config", { eventRetentionDays: 2 })).status).toBe(200);
    for (const api of [short, long]) {
      for (const name of ["old1", "old2", "new"]) await api.post("/v1/groups", { name });
    }
    // Age the first three events of each tenant (the config change and the first two groups, or the first three groups) by 3 days.
    const DAY = 24 * 3600 * 1000;
    for (const api of [short, long]) {
      await (await shardOf(api.tenant))
        .prepare(
          "UPDATE audit_log SET at = at - ? WHERE cursor IN (SELECT cursor FROM audit_log WHERE tenant_id = ? ORDER BY cursor LIMIT 3)",
        )
        .bind(3 * DAY, api.tenant)
        .run();
    }
    const shortBefore = (await feed(short)).result;
    const longBefore = (await feed(long)).result;
    expect(shortBefore).toHaveLength(4);

    await runCron("17 3 * * *");

    // The short tenant keeps only its newest event; the other (30 days by default) keeps everything.
    const kept = await feed(short);
    expect(kept.result.map((e) => e.id)).toEqual([shortBefore[3].id]);
    expect((await feed(long)).result.map((e) => e.id)).toEqual(longBefore.map((e) => e.id));
    const horizon = shortBefore[2].cursor;
    const gone = await short.get(`/v1/events?after=${shortBefore[0].cursor}`);
    expectError(gone, 410, "gone");
    expect(gone.json.error.details[0]).toMatchObject({ field: "after", resume_after: horizon });
    expect((await feed(short, `?after=${horizon}`)).result.map((e) => e.id)).toEqual([shortBefore[3].id]);
    // Each group's audit reads the same store.
    expect(await eventCount(short.tenant)).toBe(1);
  });
});

describe("the audit trail (GET /v1/audit)", () => {
  it("is the same store, filtered by who made a change and when; admin only", async () => {
    const tenant = freshTenant("ev-a");
    const alice = await client(tenant, { scope: "admin", sub: "alice" });
    const bob = await client(tenant, { scope: "admin", sub: "bob" });
    const g = (await alice.post("/v1/groups", { name: "Audited" })).json.result.group_id;
    await bob.post(`/v1/groups/${g}/members`, { user_ids: ["x"] });
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await alice.patch(`/v1/groups/${g}`, { description: "d" });

    const all = await alice.get("/v1/audit");
    expect(all.status).toBe(200);
    expect(all.json.result.map((e: any) => [e.type, e.actor])).toEqual([
      ["group.created", "alice"],
      ["user.created", "bob"], // x had no profile: the add made a bare one
      ["group.members.added", "bob"],
      ["group.updated", "alice"],
    ]);
    expect(all.json.result).toEqual((await feed(alice)).result);
    const byBob = await alice.get("/v1/audit?actor=bob");
    expect(byBob.json.result.map((e: any) => e.type)).toEqual(["user.created", "group.members.added"]);
    const later = await alice.get(`/v1/audit?since=${encodeURIComponent(between)}`);
    expect(later.json.result.map((e: any) => e.type)).toEqual(["group.updated"]);
    const earlier = await alice.get(`/v1/audit?until=${encodeURIComponent(between)}&type=group.created,group.updated`);
    expect(earlier.json.result.map((e: any) => e.type)).toEqual(["group.created"]);

    expectError(await alice.get("/v1/audit?since=yesterday"), 400, "invalid");
    const backwards = await alice.get(`/v1/audit?since=${encodeURIComponent(between)}&until=2020-01-01T00:00:00Z`);
    expectError(backwards, 400, "invalid");
    expect(backwards.json.error.details).toEqual([{ field: "until", message: expect.stringContaining("later than since") }]);
    expectError(await alice.get("/v1/audit?type=nope"), 400, "invalid");
    const watcher = await client(tenant, { scope: "events:read" });
    expectError(await watcher.get("/v1/audit"), 403, "forbidden");
    expect((await (await client(freshTenant("ev-a-other"), { scope: "admin" })).get("/v1/audit")).json.result).toEqual([]);
  });
});

describe("the console as a source", () => {
  it("names the console as the source of the native changes it makes, and only those", async () => {
    const api = await client(freshTenant("ev-console"), { scope: "admin" });
    const fromConsole = { "x-edge-groups-client": "console" };
    const made = await call("POST", "/v1/groups", { token: api.token, body: { name: "From the console" }, headers: fromConsole });
    expect(made.status).toBe(201);
    const scim = await call("POST", "/scim/v2/Groups", {
      token: api.token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Through SCIM" },
      headers: fromConsole,
    });
    expect(scim.status).toBe(201);
    await api.post("/v1/groups", { name: "Plain" });
    expect((await feed(api)).result.map((e) => [e.type, e.source])).toEqual([
      ["group.created", "console"],
      ["group.created", "scim"],
      ["group.created", "native"],
    ]);
  });
});

describe("a filtered page's window", () => {
  it(`looks at ${EVENTS_SCANNED.toLocaleString("en")} events at most: with no hit there, it moves past them and says more are there`, async () => {
    const api = await client(freshTenant("ev-window"), { scope: "admin" });
    // Arranged in D1 (10,001 events through the API would take minutes): group updates, then one deletion.
    await arrangeEvents(
      api.tenant,
      EVENTS_SCANNED + 1,
      "w",
      (i) => `CASE WHEN ${i} = ${EVENTS_SCANNED + 1} THEN 'group.delete' ELSE 'group.update' END`,
    );
    const first = await feed(api, "?types=group.deleted");
    expect(first.result).toEqual([]);
    expect(first.has_more).toBe(true);
    const oldest = (await feed(api, "?limit=1")).next_cursor;
    expect(Number(first.next_cursor)).toBe(Number(oldest) + EVENTS_SCANNED - 1);
    const next = await feed(api, `?types=group.deleted&after=${first.next_cursor}`);
    expect(next.result.map((e) => e.type)).toEqual(["group.deleted"]);
    expect(next.has_more).toBe(false);
  });
});

describe("a page's bytes", () => {
  it("packs a page of light events in one pass, and counts bytes only when a heavy event is in its window", async () => {
    // A full page of the heaviest light events still fits the budget: that is what lets it skip the count.
    expect((EVENT_LIMITS.page + 1) * (LIGHT_EVENT_WEIGHT + ROW_FIXED_BYTES)).toBeLessThanOrEqual(EVENT_LIMITS.pageBytes);
    const api = await client(freshTenant("ev-light"), { scope: "admin" });
    const db = await shardOf(api.tenant);
    // Arranged in D1: 1,200 events at the light limit (actor 'arranged' weighs 6 × 8 = 48), the 1,100th one byte over.
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
         INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, detail)
         SELECT ?, 'l' || i, ?, 'arranged', 'native', 'group.update', 'group', 'g',
                json_object('note', substr(replace(hex(zeroblob(600)), '00', 'ab'), 1, ? - 48 - 11 + (i = 1100)))
         FROM n`,
      )
      .bind(api.tenant, Date.now(), LIGHT_EVENT_WEIGHT)
      .run();
    const weights = await db
      .prepare("SELECT min(length(detail) + 48) AS light, max(length(detail) + 48) AS heavy FROM audit_log WHERE tenant_id = ?")
      .bind(api.tenant)
      .first<{ light: number; heavy: number }>();
    expect(weights).toEqual({ light: LIGHT_EVENT_WEIGHT, heavy: LIGHT_EVENT_WEIGHT + 1 });
    const first = await db
      .prepare("SELECT cursor FROM audit_log WHERE tenant_id = ? AND id = 'l1'")
      .bind(api.tenant)
      .first<{ cursor: number }>();
    const oldest = first!.cursor - 1;
    const light = async (after: number, size: number) => {
      const { sql: text, params } = new SQLiteAsyncDialect().sqlToQuery(lightEventsQuery(api.tenant, after, size));
      return (await db
        .prepare(text)
        .bind(...params)
        .first<{ light: number; found: number }>())!;
    };
    // The heavy event is the 1,100th: a window of 1,001 from the start does not reach it; from the 100th on it does.
    expect(await light(oldest, 1001)).toMatchObject({ light: 1, found: 1001 });
    expect(await light(oldest + 99, 1001)).toMatchObject({ light: 0, found: 0 });
    expect(await light(oldest + 1100, 1001)).toMatchObject({ light: 1, found: 100 });

    // Either way a reader gets whole pages of 1,000 (both are under the budget), and every event once.
    const pages: string[][] = [];
    for (const after of [oldest, oldest + 99, oldest + 1099]) {
      const r = await api.get(`/v1/events?limit=1000&after=${after}`);
      expect(r.status, r.text).toBe(200);
      expect(new TextEncoder().encode(r.text).length).toBeLessThan(EVENT_LIMITS.pageBytes);
      pages.push((r.json as { result: { id: string }[] }).result.map((e) => e.id));
    }
    expect(pages.map((p) => p.length)).toEqual([1000, 1000, 101]);
    expect(pages[1]).toEqual(Array.from({ length: 1000 }, (_, i) => `l${i + 100}`));
    expect(pages[2]!.at(-1)).toBe("l1200");
  });

  it(`stops a page before ${EVENT_LIMITS.pageBytes.toLocaleString("en")} bytes of events (its first event always); the next page goes on from there`, async () => {
    const api = await client(freshTenant("ev-bytes"), { scope: "admin" });
    // Arranged in D1: 3 small events, 30 of 100 KB, one of 1.7 MB, 2 small.
    await (await shardOf(api.tenant))
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 36)
         INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, detail)
         SELECT ?, 'b' || i, ?, 'arranged', 'native', 'group.update', 'group', 'g',
                CASE WHEN i BETWEEN 4 AND 33 THEN json_object('note', replace(hex(zeroblob(50000)), '00', 'ab'))
                     WHEN i = 34 THEN json_object('note', replace(hex(zeroblob(850000)), '00', 'ab'))
                     ELSE '{}' END
         FROM n`,
      )
      .bind(api.tenant, Date.now())
      .run();
    const ids = Array.from({ length: 36 }, (_, i) => `b${i + 1}`);

    for (const filter of ["", "&types=group.updated"]) {
      const pages: string[][] = [];
      for (let after = "", more = true; more; ) {
        const r = await api.get(`/v1/events?limit=1000${filter}${after}`);
        expect(r.status, r.text).toBe(200);
        const page = r.json as {
          result: { id: string; cursor: string; detail: { note?: string } }[];
          next_cursor: string;
          has_more: boolean;
        };
        pages.push(page.result.map((e) => e.id));
        // Over the budget only as the one event it could not leave out.
        if (page.result.length > 1) expect(new TextEncoder().encode(r.text).length).toBeLessThan(EVENT_LIMITS.pageBytes);
        expect(page.next_cursor).toBe(page.result.at(-1)!.cursor);
        if (page.result.some((e) => e.id === "b34")) expect(page.result[0]!.detail.note).toHaveLength(1_700_000);
        more = page.has_more;
        after = `&after=${page.next_cursor}`;
      }
      expect(pages.flat()).toEqual(ids);
      expect(pages[0]!.length).toBeLessThan(20); // cut by bytes, not by the limit of 1,000
      expect(pages[0]!.length).toBeGreaterThan(10); // and filled up to them: 3 small events and over 7 of 100 KB
      expect(pages).toContainEqual(["b34"]);
      // Only the event over the budget comes alone: a page cut by bytes still holds what fits.
      expect(pages.filter((p) => p.length === 1)).toEqual([["b34"]]);
    }
  });
});
