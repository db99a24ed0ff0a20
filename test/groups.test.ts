import { describe, expect, it } from "vitest";
import { client, expectError, shardOf } from "./helpers";

describe("native groups API (seed 000)", () => {
  it("creates a group as the seed's example does and reads it back", async () => {
    const api = await client();
    const res = await api.post("/v1/groups", {
      name: "FC Barcelona fans",
      description: "FC Barcelona fans across EMEA",
      custom_data: { started_tracking: "2019-08-24T14:15:22Z" },
    });
    expect(res.status).toBe(201);
    const g = res.json.result;
    expect(g.group_id).toMatch(/^[0-9a-f]{16}$/);
    expect(g).toMatchObject({
      name: "FC Barcelona fans",
      description: "FC Barcelona fans across EMEA",
      custom_data: { started_tracking: "2019-08-24T14:15:22Z" },
      member_count: 0,
      type: "Group",
    });
    expect(Number.isInteger(g.created_at)).toBe(true);
    expect(Math.abs(g.created_at - Date.now() / 1000)).toBeLessThan(60);

    const got = await api.get(`/v1/groups/${g.group_id}`);
    expect(got.status).toBe(200);
    expect(got.json.result).toEqual(g);
    const row = await (await shardOf(api.tenant)).prepare("SELECT name, tenant_id FROM groups WHERE id = ?").bind(g.group_id).first();
    expect(row).toEqual({ name: "FC Barcelona fans", tenant_id: api.tenant });
  });

  it("refuses a name that differs only in case (409) and stores nothing", async () => {
    const api = await client();
    expect((await api.post("/v1/groups", { name: "R&D" })).status).toBe(201);
    expectError(await api.post("/v1/groups", { name: "r&d" }), 409, "conflict");
    const n = await (await shardOf(api.tenant)).prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?").bind(api.tenant).first("n");
    expect(n).toBe(1);
  });

  it("updates only the fields given; custom_data is replaced, not merged (PUT and PATCH)", async () => {
    const api = await client();
    const g = (await api.post("/v1/groups", { name: "Team A", description: "d", custom_data: { a: 1, b: 2 } })).json.result;
    const put = await api.put(`/v1/groups/${g.group_id}`, { custom_data: { c: 3 } });
    expect(put.status).toBe(200);
    expect(put.json.result).toMatchObject({ name: "Team A", description: "d", custom_data: { c: 3 } });
    const patch = await api.patch(`/v1/groups/${g.group_id}`, { name: "Team B", type: "Team" });
    expect(patch.json.result).toMatchObject({ name: "Team B", type: "Team", description: "d", custom_data: { c: 3 } });
    const row = await (await shardOf(api.tenant))
      .prepare("SELECT name, custom_data, version FROM groups WHERE tenant_id = ? AND id = ?")
      .bind(api.tenant, g.group_id)
      .first();
    expect(row).toEqual({ name: "Team B", custom_data: '{"c":3}', version: 3 });
  });

  it("renaming onto another group's name is a 409 and changes nothing", async () => {
    const api = await client();
    await api.post("/v1/groups", { name: "Alpha" });
    const b = (await api.post("/v1/groups", { name: "Beta" })).json.result;
    expectError(await api.patch(`/v1/groups/${b.group_id}`, { name: "ALPHA" }), 409, "conflict");
    expect((await api.get(`/v1/groups/${b.group_id}`)).json.result.name).toBe("Beta");
  });

  it("deletes a group with its memberships (204), then 404", async () => {
    const api = await client();
    const g = (await api.post("/v1/groups", { name: "Doomed" })).json.result;
    await api.post(`/v1/groups/${g.group_id}/members`, { user_ids: ["u1", "u2"] });
    const del = await api.del(`/v1/groups/${g.group_id}`);
    expect(del.status).toBe(204);
    expectError(await api.get(`/v1/groups/${g.group_id}`), 404, "not_found");
    expectError(await api.del(`/v1/groups/${g.group_id}`), 404, "not_found");
    const n = await (await shardOf(api.tenant))
      .prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ?")
      .bind(api.tenant)
      .first("n");
    expect(n).toBe(0);
    // the users themselves remain
    expect((await api.get("/v1/users/u1")).status).toBe(200);
  });

  it("pages through 250 groups with each exactly once, in stable order", async () => {
    const api = await client();
    const values = Array.from({ length: 250 }, (_, i) => `('${api.tenant}', 'g${i}', 'Group ${i}', 'group ${i}', 1, 1)`);
    await (await shardOf(api.tenant))
      .prepare(`INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at) VALUES ${values.join(",")}`)
      .run();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const res = await api.get(`/v1/groups?limit=60${q}`);
      expect(res.status).toBe(200);
      seen.push(...res.json.result.map((g: { group_id: string }) => g.group_id));
      cursor = res.json.next_cursor;
      pages += 1;
      // a group created mid-way after the cursor position shows up once; none is repeated
      if (pages === 2) await api.post("/v1/groups", { name: "zzz late arrival" });
    } while (cursor);
    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(251);
  });

  it("searches by name prefix, case-insensitively", async () => {
    const api = await client();
    for (const name of ["Engineering", "engine room", "Marketing"]) await api.post("/v1/groups", { name });
    const res = await api.get("/v1/groups?search=ENGIN");
    expect(res.json.result.map((g: { name: string }) => g.name)).toEqual(["engine room", "Engineering"]);
    expect(res.json.next_cursor).toBeNull();
  });
});

describe("native groups API: bad input", () => {
  it("rejects malformed JSON with 400 and stores nothing", async () => {
    const api = await client();
    const { call } = await import("./helpers");
    const res = await call("POST", "/v1/groups", {
      token: api.token,
      rawBody: '{"name": ',
      headers: { "content-type": "application/json" },
    });
    expectError(res, 400, "invalid");
    const n = await (await shardOf(api.tenant)).prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?").bind(api.tenant).first("n");
    expect(n).toBe(0);
    // A missing field says it is required, on every surface.
    expect((await api.post("/v1/groups", {})).json.error.details).toEqual([{ field: "name", message: "is required" }]);
    const seed001 = await call("POST", "/resources/groups/v1", { token: api.token, body: { description: "x" } });
    expect(seed001.json.errors).toContain("name: is required");
    const kaizala = await call("POST", "/kaizala/v1/groups", { token: api.token, body: { name: "K" } });
    expect(kaizala.json.details).toEqual([{ field: "welcomeMessage", message: "is required" }]);
    // A body-taking call sent without one says that is what it lacks.
    const made = await api.post("/v1/groups", { name: "Kept" });
    await api.post(`/v1/groups/${made.json.result.group_id}/members`, { user_ids: ["a"] });
    const bodiless = await call("DELETE", `/v1/groups/${made.json.result.group_id}/members`, {
      token: api.token,
      headers: { "content-type": "application/json" },
    });
    expectError(bodiless, 400, "invalid");
    expect(bodiless.json.error.message).toContain("no body sent");
    expect((await api.get(`/v1/groups/${made.json.result.group_id}/members`)).json.result).toHaveLength(1);
  });

  it.each([
    [{ name: "" }, "name"],
    [{ name: "x".repeat(201) }, "name"],
    [{ name: 42 }, "name"],
    [{ name: "ok", description: "d".repeat(2001) }, "description"],
    [{ name: "ok", custom_data: ["not", "an", "object"] }, "custom_data"],
    [{ name: "ok", custom_data: { big: "x".repeat(17 * 1024) } }, "custom_data"],
    [{ name: "ok", unknown_field: 1 }, ""],
  ])("rejects body #%# with 400 naming the field", async (body, field) => {
    const api = await client();
    const res = await api.post("/v1/groups", body);
    expectError(res, 400, "invalid");
    if (field) expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
    const n = await (await shardOf(api.tenant)).prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?").bind(api.tenant).first("n");
    expect(n).toBe(0);
  });

  it("refuses names with control characters, bidi overrides or invisible characters on every name people read, and stores nothing", async () => {
    const api = await client(undefined, { scope: "admin" });
    const made = await api.post("/v1/groups", { name: "Ops" });
    const spoofs = [
      "Admins\u202Esnimda",
      "Ops\u0000",
      "two\nlines",
      "Ops\u2066x\u2069",
      "esc\u001b[31m",
      "c1\u0085",
      "Admin\u200Bs",
      "Op\uFEFFs",
    ];
    for (const name of spoofs) {
      const created = await api.post("/v1/groups", { name });
      expectError(created, 400, "invalid");
      expect(JSON.stringify(created.json)).toContain("must not hold control characters");
      expectError(await api.patch(`/v1/groups/${made.json.result.id}`, { name }), 400, "invalid");
      expectError(await api.post("/v1/roles", { key: "r1", name, level: 1 }), 400, "invalid");
      expectError(await api.post("/v1/api-keys", { name, scopes: ["groups:read"] }), 400, "invalid");
    }
    expect((await api.get("/v1/groups")).json.result.map((g: { name: string }) => g.name)).toEqual(["Ops"]);
    expect((await api.get("/v1/roles")).json.result).toEqual([]);
    expect((await api.get("/v1/api-keys")).json.result).toEqual([]);
    // Names people write in other scripts keep their marks and joiners.
    for (const name of ["\u200Fצוות", "Team 👩\u200D💻", "Équipe R&D"]) expect((await api.post("/v1/groups", { name })).status).toBe(201);
  });

  it("rejects a body over 2 MB with 413 before parsing", async () => {
    const api = await client();
    const res = await api.post("/v1/groups", { name: "big", custom_data: { x: "x".repeat(2 * 1024 * 1024) } });
    expectError(res, 413, "payload_too_large");
  });

  it("rejects bad ids, limits and cursors with 400", async () => {
    const api = await client();
    expectError(await api.get(`/v1/groups/${"x".repeat(129)}`), 400, "invalid");
    expectError(await api.get("/v1/groups/bad%20id"), 400, "invalid");
    expectError(await api.get("/v1/groups?limit=0"), 400, "invalid");
    expectError(await api.get("/v1/groups?limit=201"), 400, "invalid");
    expectError(await api.get("/v1/groups?cursor=not-a-cursor"), 400, "invalid");
  });

  it("answers 404 for an unknown group", async () => {
    const api = await client();
    expectError(await api.get("/v1/groups/0000000000000000"), 404, "not_found");
    expectError(await api.patch("/v1/groups/0000000000000000", { name: "x" }), 404, "not_found");
  });
});
