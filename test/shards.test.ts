import { describe, expect, it } from "vitest";
import { forgetApiKey } from "../src/auth/api-key";
import { hashSecret } from "../src/core/keys";
import { resumeMoves } from "../src/core/shards";
import { everyShard, shardNames } from "../src/core/shards/bindings";
import { advanceMove, readMove, startMove } from "../src/core/shards/move";
import { TENANT_TABLES } from "../src/core/shards/tenant-tables";
import {
  type Client,
  call,
  claimsWritten,
  client,
  env,
  eventually,
  expectError,
  freshTenant,
  placeInDirectory,
  placeOn,
  runCron,
  shardOf,
  token,
  vendorToken,
} from "./helpers";
import { limitedEnv, newInvocation, PLATFORM_LIMITS } from "./limits/platform-limits";

const vendor = async () => ({ authorization: `Bearer ${await vendorToken()}` });

/** How many rows the tenant has on each shard, by shard name, over every tenant table. */
async function rowsByShard(tenant: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const shard of everyShard(env)) {
    const counts = await shard.d1.batch(
      TENANT_TABLES.map((t) => shard.d1.prepare(`SELECT count(*) AS n FROM "${t.name}" WHERE tenant_id = ?`).bind(tenant)),
    );
    out[shard.name] = counts.reduce((sum, r) => sum + ((r.results[0] as { n: number }).n ?? 0), 0);
  }
  return out;
}

async function placement(tenant: string) {
  return call("GET", `/vendor/tenants/${encodeURIComponent(tenant)}/placement`, { headers: await vendor() });
}

/** What a user reads of the tenant: groups, each group's members, users, and the event feed from the start. */
async function userView(api: Client) {
  const groups = (await api.get("/v1/groups?limit=200")).json.result.map((g: any) => [g.group_id, g.name, g.member_count]);
  const members: Record<string, string[]> = {};
  for (const [id] of groups) members[id] = (await api.get(`/v1/groups/${id}/members?limit=200`)).json.result.map((m: any) => m.user_id);
  const events = (await api.get("/v1/events?limit=1000")).json.result.map((e: any) => e.id);
  return { groups, members, events };
}

/**
 * Every stored row of the tenant on the shard the directory names, in key order. Event cursors
 * (and what holds one) are the shard's own sequence, renumbered by a move: left out.
 */
async function stored(tenant: string) {
  const db = await shardOf(tenant);
  const renumbered: Record<string, string[]> = {
    audit_log: ["cursor"],
    webhook_deliveries: ["cursor"],
    webhook_endpoints: ["enqueued_through"],
  };
  const out: Record<string, unknown[]> = {};
  // A move sets the horizon of the tenant's events (cursors from before it are to resync): not the tenant's data.
  for (const t of TENANT_TABLES.filter((t) => t.name !== "event_horizons")) {
    const order = t.name === "audit_log" ? "ORDER BY id" : t.key.length ? `ORDER BY ${t.key.map((c) => `"${c}"`).join(", ")}` : "";
    const rows = (await db.prepare(`SELECT * FROM "${t.name}" WHERE tenant_id = ? ${order}`).bind(tenant).all<Record<string, unknown>>())
      .results;
    out[t.name] = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !renumbered[t.name]?.includes(k))));
  }
  return out;
}

/** Send a request until it lands, waiting out a move's fence (503 with Retry-After); the acknowledged answer. */
async function untilLanded(send: () => Promise<{ status: number; headers: Headers; text: string }>) {
  for (;;) {
    const res = await send();
    if (res.status !== 503) return res;
    expect(res.headers.get("retry-after")).toBe("1");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Drive a move through the vendor call until it is done. */
async function moveTo(tenant: string, to: string) {
  for (let i = 0; i < 200; i++) {
    const res = await call("POST", `/vendor/tenants/${encodeURIComponent(tenant)}/move`, { headers: await vendor(), body: { to } });
    expect([200, 202], res.text).toContain(res.status);
    if (res.status === 200) return res.json;
  }
  throw new Error("the move did not finish");
}

async function populated(shard: string) {
  const tenant = freshTenant("shard");
  await placeOn(tenant, shard);
  const api = await client(tenant, { scope: "admin" });
  for (let g = 0; g < 3; g++) {
    const made = await api.post("/v1/groups", { name: `Group ${g}` });
    expect(made.status).toBe(201);
    const added = await api.post(`/v1/groups/${made.json.result.group_id}/members`, {
      user_ids: Array.from({ length: 40 }, (_, i) => `u${g}-${i}`),
    });
    expect(added.status, added.text).toBe(200);
  }
  return api;
}

describe("shards", () => {
  it("runs three shards; each lists every tenant table, and each tenant table has its move triggers", async () => {
    expect(shardNames(env)).toEqual(["DB", "DB_2", "DB_3"]);
    for (const shard of everyShard(env)) {
      const tables = await shard.d1
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%`tenant_id`%' ORDER BY 1")
        .all<{ name: string }>();
      const tenantTables = tables.results
        .map((r) => r.name)
        .filter((n) => !["tenant_moves_out", "tenant_move_log", "moved_event_cursors"].includes(n));
      expect(tenantTables).toEqual(TENANT_TABLES.map((t) => t.name).sort());
      const triggers = await shard.d1.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1").all<{ name: string }>();
      expect(triggers.results.map((r) => r.name)).toEqual(
        TENANT_TABLES.flatMap((t) => ["delete", "insert", "update"].map((op) => `${t.name}_move_${op}`)).sort(),
      );
    }
  });

  it("places a new tenant on its first request and keeps all its rows on that one shard", async () => {
    const api = await client(freshTenant("placed"), { scope: "admin" });
    expectError(await placement(api.tenant), 404, "not_found");
    const made = await api.post("/v1/groups", { name: "First" });
    expect(made.status).toBe(201);
    const where = await placement(api.tenant);
    expect(where.status).toBe(200);
    expect(where.json).toMatchObject({ tenant_id: api.tenant, placed_by: "auto", move: null });
    expect(shardNames(env)).toContain(where.json.shard);
    const rows = await rowsByShard(api.tenant);
    expect(rows[where.json.shard]).toBeGreaterThan(0);
    for (const name of shardNames(env)) if (name !== where.json.shard) expect(rows[name]).toBe(0);
  });

  it("spreads new tenants: three placed one after another, with nothing written yet, do not all land on one shard", async () => {
    const before = await call("GET", "/vendor/shards", { headers: await vendor() });
    expect(before.status).toBe(200);
    expect(before.json.result.map((s: any) => s.shard)).toEqual(["DB", "DB_2", "DB_3"]);
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const api = await client(freshTenant("spread"));
      expect((await api.get("/v1/groups")).status).toBe(200);
      placed.push((await placement(api.tenant)).json.shard);
    }
    // Each placement counts against its shard, so three empty tenants never all land on one shard.
    expect(new Set(placed).size).toBeGreaterThan(1);
  });

  it("keeps a tenant from before shards (rows on the first shard, no directory row) where its rows are", async () => {
    const tenant = freshTenant("before-shards");
    await everyShard(env)[0]!
      .d1.prepare("INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at) VALUES (?, 'old', 'Old', 'old', 0, 0)")
      .bind(tenant)
      .run();
    // The operator cannot place it elsewhere by hand: its rows are on DB.
    const v = await vendor();
    expectError(await call("PUT", `/vendor/tenants/${tenant}/placement`, { headers: v, body: { shard: "DB_3" } }), 409, "conflict");
    const api = await client(tenant);
    expect((await api.get("/v1/groups")).json.result.map((g: any) => g.name)).toEqual(["Old"]);
    expect((await placement(tenant)).json).toMatchObject({ shard: "DB", placed_by: "before-shards" });
  });

  it("finds an API key made before shards on the first shard, and records its tenant; elsewhere such a key is unknown (401)", async () => {
    const found = [];
    for (const shard of ["DB", "DB_2"]) {
      const tenant = freshTenant(`key-${shard}`);
      await placeOn(tenant, shard);
      const admin = await client(tenant, { scope: "admin" });
      const secret = (await admin.post("/v1/api-keys", { name: "old", scopes: ["groups:read"] })).json.result.secret as string;
      const hash = await hashSecret(secret);
      // As before shards: the control database has no row for the key, and no isolate remembers it.
      await env.CONTROL.prepare("DELETE FROM api_key_tenants WHERE secret_hash = ?").bind(hash).run();
      forgetApiKey(hash);
      found.push((await call("GET", "/v1/groups", { token: secret })).status);
      found.push(
        (await env.CONTROL.prepare("SELECT tenant_id FROM api_key_tenants WHERE secret_hash = ?").bind(hash).first<{ tenant_id: string }>())
          ?.tenant_id === tenant,
      );
    }
    expect(found).toEqual([200, true, 401, false]);
  });

  it("answers 503 to a tenant the directory places on a shard this deployment does not have, and writes nothing", async () => {
    const tenant = freshTenant("lost");
    await placeInDirectory(tenant, "DB_9");
    const api = await client(tenant);
    expectError(await api.post("/v1/groups", { name: "Nowhere" }), 503, "unavailable");
    expect(await rowsByShard(tenant)).toEqual({ DB: 0, DB_2: 0, DB_3: 0 });
  });

  it("serves every surface on every shard, each tenant's rows on its own shard only", async () => {
    for (const shard of shardNames(env)) {
      const tenant = freshTenant(`on-${shard}`);
      await placeOn(tenant, shard);
      const api = await client(tenant, { scope: "admin" });
      const group = (await api.post("/v1/groups", { name: "Everyone" })).json.result.group_id;
      expect((await api.post(`/v1/groups/${group}/members`, { user_ids: ["ann"] })).status).toBe(200);
      const scim = await call("POST", "/scim/v2/Users", {
        token: await token({ tenant, scope: "scim" }),
        body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "bob@example.com" },
      });
      expect(scim.status, scim.text).toBe(201);
      const tracked = await call("POST", "/v1/group", {
        token: await token({ tenant, scope: "group_api" }),
        body: { userId: "cy", groupId: "acme", traits: { plan: "pro" } },
      });
      expect(tracked.status, tracked.text).toBe(200);
      const seed001 = await call("GET", "/resources/groups/v1", {
        headers: { authorization: `Bearer ${await vendorToken()}`, "frontegg-tenant-id": tenant },
      });
      expect(seed001.status).toBe(200);
      await claimsWritten(tenant);
      expect((await api.get("/v1/users/ann/claims")).json.result).toEqual({ groups: ["Everyone"] });
      const key = await api.post("/v1/api-keys", { name: "k", scopes: ["groups:read"] });
      const byKey = await call("GET", `/v1/groups/${group}/members`, { token: key.json.result.secret });
      expect(byKey.json.result.map((m: any) => m.user_id)).toEqual(["ann"]);
      const rows = await rowsByShard(tenant);
      for (const name of shardNames(env)) {
        if (name === shard) expect(rows[name]).toBeGreaterThan(5);
        else expect(rows[name], `${tenant} on ${name}`).toBe(0);
      }
    }
  });

  it("keeps placement and moves to the operator: a tenant's admin is refused, bad input is 400/404/409", async () => {
    const api = await client(freshTenant("tenant-admin"), { scope: "admin" });
    await api.get("/v1/groups");
    const own = { authorization: `Bearer ${api.token}` };
    expectError(await call("GET", "/vendor/shards", {}), 401, "unauthorized");
    expectError(await call("GET", "/vendor/shards", { headers: own }), 403, "forbidden");
    expectError(await call("POST", `/vendor/tenants/${api.tenant}/move`, { headers: own, body: { to: "DB_2" } }), 403, "forbidden");
    const reader = { authorization: `Bearer ${await vendorToken({ scope: "groups:read" })}` };
    expectError(await call("POST", `/vendor/tenants/${api.tenant}/move`, { headers: reader, body: { to: "DB_2" } }), 403, "forbidden");
    expect((await placement(api.tenant)).json.move).toBeNull();
    const v = await vendor();
    expectError(await call("PUT", `/vendor/tenants/${api.tenant}/placement`, { headers: v, body: { shard: "DB_9" } }), 400, "invalid");
    const current = (await placement(api.tenant)).json.shard;
    const other = shardNames(env).find((s) => s !== current)!;
    expectError(await call("PUT", `/vendor/tenants/${api.tenant}/placement`, { headers: v, body: { shard: other } }), 409, "conflict");
    const again = await call("PUT", `/vendor/tenants/${api.tenant}/placement`, { headers: v, body: { shard: current } });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ tenant_id: api.tenant, shard: current, placed_by: "auto" });
    expectError(await call("POST", `/vendor/tenants/${api.tenant}/move`, { headers: v, body: { to: current } }), 400, "invalid");
    expectError(await call("POST", `/vendor/tenants/${api.tenant}/move`, { headers: v, body: { to: "DB_9" } }), 400, "invalid");
    const malformed = { headers: { ...v, "content-type": "application/json" }, rawBody: "{" };
    expectError(await call("POST", `/vendor/tenants/${api.tenant}/move`, malformed), 400, "invalid");
    expectError(await call("DELETE", `/vendor/tenants/${api.tenant}/move`, { headers: v }), 404, "not_found");
    expectError(await call("GET", "/vendor/tenants/bad%20id/placement", { headers: v }), 400, "invalid");
    expect((await placement(api.tenant)).json.shard).toBe(current);
  });

  it("moves a tenant under concurrent writes from several surfaces: every acknowledged write is there after, on the new shard only", async () => {
    const api = await populated("DB");
    const hook = await api.post("/v1/webhooks", { url: "https://hooks.test/ok/shard-move" });
    expect(hook.status, hook.text).toBe(201);
    const cursorBefore = (await api.get("/v1/events?limit=1000")).json.next_cursor;
    const before = await userView(api);
    const acknowledged = { groups: [] as string[], members: [] as string[], scim: [] as string[] };
    let writing = true;
    const scimToken = await token({ tenant: api.tenant, scope: "scim" });
    const group0 = before.groups[0][0];
    const writers = [
      (async () => {
        for (let i = 0; writing; i++) {
          const res = await untilLanded(() => api.post("/v1/groups", { name: `During ${i}` }));
          expect(res.status, res.text).toBe(201);
          acknowledged.groups.push(`During ${i}`);
        }
      })(),
      (async () => {
        for (let i = 0; writing; i++) {
          const res = await untilLanded(() => api.post(`/v1/groups/${group0}/members`, { user_ids: [`late-${i}`] }));
          expect(res.status, res.text).toBe(200);
          acknowledged.members.push(`late-${i}`);
        }
      })(),
      (async () => {
        for (let i = 0; writing; i++) {
          const body = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `scim-${i}@example.com` };
          const res = await untilLanded(() => call("POST", "/scim/v2/Users", { token: scimToken, body }));
          expect(res.status, res.text).toBe(201);
          acknowledged.scim.push(`scim-${i}@example.com`);
        }
      })(),
    ];
    await new Promise((r) => setTimeout(r, 100));
    const done = await moveTo(api.tenant, "DB_3");
    writing = false;
    await Promise.all(writers);
    expect(done).toMatchObject({ tenant_id: api.tenant, from: "DB", to: "DB_3", state: "done" });
    expect(done.copied_rows).toBeGreaterThan(100);
    expect(acknowledged.groups.length + acknowledged.members.length + acknowledged.scim.length).toBeGreaterThan(3);

    expect((await placement(api.tenant)).json.shard).toBe("DB_3");
    const rows = await rowsByShard(api.tenant);
    expect(rows.DB).toBe(0);
    expect(rows.DB_2).toBe(0);
    expect(rows.DB_3).toBeGreaterThan(100);

    const after = await userView(api);
    const names = after.groups.map((g: any[]) => g[1]);
    for (const [, name] of before.groups) expect(names).toContain(name);
    for (const name of acknowledged.groups) expect(names).toContain(name);
    for (const [id, members] of Object.entries(before.members)) expect(after.members[id]).toEqual(expect.arrayContaining(members));
    expect(after.members[group0]).toEqual(expect.arrayContaining(acknowledged.members));
    const scimNames = (await call("GET", "/scim/v2/Users?count=1000", { token: scimToken })).json.Resources.map((u: any) => u.userName);
    expect(scimNames).toEqual(expect.arrayContaining(acknowledged.scim));
    // The feed keeps every event, in order; a reader's cursor from before the move resumes where it was.
    expect(after.events.slice(0, before.events.length)).toEqual(before.events);
    const resumed = await api.get(`/v1/events?after=${cursorBefore}&limit=1000`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.json.result.map((e: any) => e.id)).toEqual(after.events.slice(before.events.length));
    expect(resumed.json.result.length).toBeGreaterThan(0);
    const fromStart = await api.get("/v1/events?after=0&limit=1000");
    expect(fromStart.json.result.map((e: any) => e.id)).toEqual(after.events);
    // Writes go on, on the new shard; the old one refuses a late write of the tenant (its tombstone).
    expect((await api.post("/v1/groups", { name: "After" })).status).toBe(201);
    await expect(
      everyShard(env)[0]!
        .d1.prepare("INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at) VALUES (?, 'late', 'Late', 'late', 0, 0)")
        .bind(api.tenant)
        .run(),
    ).rejects.toThrow(/moving between databases/);
    // The webhook endpoint moved with its outbox position: a change after the move is delivered, once.
    const changed = await api.post("/v1/groups", { name: "Delivered" });
    expect(changed.status).toBe(201);
    const delivered = async () =>
      ((await (await fetch("https://hooks.test/received/shard-move")).json()) as { body: string }[]).filter((a) =>
        a.body.includes(changed.json.result.group_id),
      );
    await eventually(async () => (await delivered()).length > 0, 15_000, 100);
    await new Promise((r) => setTimeout(r, 500));
    expect(await delivered()).toHaveLength(1);
  });

  it("a move cut off at any point leaves the tenant whole on one shard, and resumes to the end", async () => {
    const api = await populated("DB_2");
    const before = await userView(api);
    const rowsBefore = await stored(api.tenant);
    let crashes = 0;
    const states = new Set<string>();
    await startMove(env, api.tenant, "DB", "vendor:test");
    // Cut the move off at its k-th subrequest (past an invocation's limit), resume, cut it later, and so on.
    for (let k = 1; k < 2_000; k += 3) {
      const invocation = newInvocation();
      invocation.subrequests = PLATFORM_LIMITS.subrequests - k;
      try {
        await advanceMove(limitedEnv(env, invocation), api.tenant);
      } catch (e) {
        expect(String(e)).toMatch(/Too many API requests/);
        crashes++;
      }
      const state = (await readMove(env, api.tenant))!.state;
      states.add(state);
      // Whatever the point, the tenant reads whole from the shard the directory names, and only there.
      expect(await userView(api)).toEqual(before);
      expect(await stored(api.tenant)).toEqual(rowsBefore);
      if (state === "done") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(crashes).toBeGreaterThan(3);
    expect([...states]).toEqual(expect.arrayContaining(["copying", "fenced", "switched", "settled", "done"]));
    expect((await placement(api.tenant)).json.shard).toBe("DB");
    expect(await rowsByShard(api.tenant)).toMatchObject({ DB_2: 0, DB_3: 0 });
    expect(await userView(api)).toEqual(before);
    expect(await stored(api.tenant)).toEqual(rowsBefore);
  });

  it("rolls back a move before its switch: the tenant stays whole on its shard, the copy is gone, writes go on", async () => {
    const api = await populated("DB_3");
    const before = await userView(api);
    const rowsBefore = await stored(api.tenant);
    await startMove(env, api.tenant, "DB_2", "vendor:test");
    // A few chunks only: the copy is partway.
    expect((await advanceMove(env, api.tenant, 8))!.move.state).toBe("copying");
    expect((await rowsByShard(api.tenant)).DB_2).toBeGreaterThan(0);
    // One move at a time: another destination while this one runs is 409.
    const other = await call("POST", `/vendor/tenants/${api.tenant}/move`, { headers: await vendor(), body: { to: "DB" } });
    expectError(other, 409, "conflict");
    const rolled = await call("DELETE", `/vendor/tenants/${api.tenant}/move`, { headers: await vendor() });
    expect(rolled.status).toBe(200);
    expect(rolled.json).toMatchObject({ state: "rolled_back", from: "DB_3", to: "DB_2" });
    expect((await placement(api.tenant)).json).toMatchObject({ shard: "DB_3", move: { state: "rolled_back" } });
    expect(await rowsByShard(api.tenant)).toMatchObject({ DB: 0, DB_2: 0 });
    expect(await userView(api)).toEqual(before);
    expect(await stored(api.tenant)).toEqual(rowsBefore);
    // Repeated, the rollback is the same (it finishes an undo that was cut off).
    const again = await call("DELETE", `/vendor/tenants/${api.tenant}/move`, { headers: await vendor() });
    expect(again.status).toBe(200);
    expect(again.json.state).toBe("rolled_back");
    expect(await stored(api.tenant)).toEqual(rowsBefore);
    expect((await api.post("/v1/groups", { name: "Still here" })).status).toBe(201);
  });

  it("the per-minute cron takes on a move nobody drives any more, to the end", async () => {
    const api = await populated("DB_3");
    const rowsBefore = await stored(api.tenant);
    await startMove(env, api.tenant, "DB", "vendor:test");
    expect((await advanceMove(env, api.tenant, 8))!.move.state).toBe("copying");
    for (let i = 0; i < 40 && (await readMove(env, api.tenant))!.state !== "done"; i++) {
      // Idle for a minute, as after a crash or a caller that went away.
      await env.CONTROL.prepare("UPDATE tenant_moves SET updated_at = updated_at - 60000 WHERE tenant_id = ?").bind(api.tenant).run();
      await runCron();
      await new Promise((r) => setTimeout(r, 350));
    }
    expect((await readMove(env, api.tenant))!.state).toBe("done");
    expect((await placement(api.tenant)).json.shard).toBe("DB");
    expect(await rowsByShard(api.tenant)).toMatchObject({ DB_2: 0, DB_3: 0 });
    expect(await stored(api.tenant)).toEqual(rowsBefore);
  });

  it("the cron's moves go on past one that keeps failing, which it takes up again after the others", async () => {
    const [broken, fine] = [await populated("DB_3"), await populated("DB_3")];
    await startMove(env, broken.tenant, "DB", "vendor:test");
    await startMove(env, fine.tenant, "DB", "vendor:test");
    // A move whose target this deployment no longer has: every step of it fails.
    await env.CONTROL.prepare("UPDATE tenant_moves SET to_shard = 'DB_9' WHERE tenant_id = ?").bind(broken.tenant).run();
    const idle = async (tenant: string, ms: number) =>
      env.CONTROL.prepare("UPDATE tenant_moves SET updated_at = ? WHERE tenant_id = ?")
        .bind(Date.now() - ms, tenant)
        .run();
    for (let i = 0; i < 40 && (await readMove(env, fine.tenant))!.state !== "done"; i++) {
      await idle(broken.tenant, 120_000); // always the longest idle: first in line unless a failure sends it back
      await idle(fine.tenant, 60_000);
      await expect(runCron()).rejects.toThrow(/1 of 2 stalled moves failed/);
      await new Promise((r) => setTimeout(r, 350));
    }
    expect((await readMove(env, fine.tenant))!.state).toBe("done");
    expect((await placement(fine.tenant)).json.shard).toBe("DB");
    expect((await readMove(env, broken.tenant))!.state).toBe("copying");
    // Its failure sent it to the back of the line (its idle time starts again).
    const { updated_at } = (await env.CONTROL.prepare("SELECT updated_at FROM tenant_moves WHERE tenant_id = ?")
      .bind(broken.tenant)
      .first<{ updated_at: number }>())!;
    expect(updated_at).toBeGreaterThan(Date.now() - 60_000);
    expect((await placement(broken.tenant)).json.shard).toBe("DB_3");
    await env.CONTROL.prepare("DELETE FROM tenant_moves WHERE tenant_id = ?").bind(broken.tenant).run();
    await (await shardOf(broken.tenant)).prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(broken.tenant).run();
  });

  it("the cron's moves share one budget of subrequests: what it does not cover waits for the next runs, untouched", async () => {
    const tenants = [await populated("DB_2"), await populated("DB_2"), await populated("DB_2"), await populated("DB_2")];
    for (const api of tenants) await startMove(env, api.tenant, "DB_3", "vendor:test");
    const idle = async () => {
      for (const [i, api] of tenants.entries())
        await env.CONTROL.prepare("UPDATE tenant_moves SET updated_at = ? WHERE tenant_id = ?")
          .bind(1_000 + i, api.tenant)
          .run();
    };
    const updatedAt = async (tenant: string) =>
      (await env.CONTROL.prepare("SELECT updated_at FROM tenant_moves WHERE tenant_id = ?").bind(tenant).first<{ updated_at: number }>())!
        .updated_at;
    await idle();
    await resumeMoves(env, 60);
    const taken = [];
    for (const api of tenants) taken.push((await updatedAt(api.tenant)) > 10_000);
    // The longest idle first, as far as the budget went; the others were not started.
    expect(taken[0]).toBe(true);
    expect(taken.at(-1)).toBe(false);
    expect(taken.indexOf(false)).toBeGreaterThan(0);
    expect(taken.slice(taken.indexOf(false)).every((t) => !t)).toBe(true);
    for (
      let i = 0;
      i < 60 && !(await Promise.all(tenants.map(async (api) => (await readMove(env, api.tenant))!.state === "done"))).every(Boolean);
      i++
    ) {
      await idle();
      await resumeMoves(env, 60);
      await new Promise((r) => setTimeout(r, 350));
    }
    for (const api of tenants) expect((await placement(api.tenant)).json.shard).toBe("DB_3");
  });

  it("refuses to roll back a move that has switched (409): it finishes, and the tenant is whole on the new shard", async () => {
    const api = await populated("DB");
    const rowsBefore = await stored(api.tenant);
    await startMove(env, api.tenant, "DB_2", "vendor:test");
    for (let i = 0; i < 20 && (await readMove(env, api.tenant))!.state !== "switched"; i++) await advanceMove(env, api.tenant);
    expect((await readMove(env, api.tenant))!.state).toBe("switched");
    expectError(await call("DELETE", `/vendor/tenants/${api.tenant}/move`, { headers: await vendor() }), 409, "conflict");
    expect((await moveTo(api.tenant, "DB_2")).state).toBe("done");
    expectError(await call("DELETE", `/vendor/tenants/${api.tenant}/move`, { headers: await vendor() }), 404, "not_found");
    expect(await rowsByShard(api.tenant)).toMatchObject({ DB: 0, DB_3: 0 });
    expect(await stored(api.tenant)).toEqual(rowsBefore);
  });
  // The copy logs every write of the tenant's rows with triggers (migration 0013), and D1 counts what triggers write
  // among a statement's changes: an answer's counts are the rows the call wrote itself.
  it("answers writes made while a move copies with their own counts, not the move log's rows, and moves what they wrote", async () => {
    const tenant = freshTenant("move-counts");
    await placeOn(tenant, "DB");
    const api = await client(tenant, { scope: "admin" });
    const made = async (name: string) => (await api.post("/v1/groups", { name })).json.result.group_id as string;
    const [g, child] = [await made("Parent"), await made("Child")];
    const role = (await api.post("/v1/roles", { key: "auditor", name: "Auditor", level: 30 })).json.result.role_id as string;
    expect((await api.put("/v1/users/u1", { name: "U" })).status).toBe(201);
    expect((await api.post(`/v1/groups/${g}/members`, { user_ids: ["a", "b", "c"] })).status).toBe(200);
    await startMove(env, tenant, "DB_2", "vendor:test");
    expect((await readMove(env, tenant))!.state).toBe("copying");
    const result = async (res: Promise<{ status: number; text: string; json: any }>) => {
      const r = await res;
      expect(r.status, r.text).toBe(200);
      return r.json.result;
    };
    expect(await result(api.put(`/v1/groups/${g}/members`, { user_ids: ["b", "x", "y"] }))).toMatchObject({ added: 2, removed: 2 });
    expect(await result(api.post("/v1/users/u1/roles", { role_ids: [role] }))).toEqual({ assigned: 1, already_assigned: 0 });
    expect(await result(api.post(`/v1/groups/${g}/roles`, { role_ids: [role] }))).toEqual({ assigned: 1, already_assigned: 0 });
    expect(await result(api.post(`/v1/groups/${g}/children`, { group_ids: [child] }))).toMatchObject({ linked: 1, already_linked: 0 });
    expect(await result(api.del(`/v1/groups/${child}/roles`, { role_ids: [role] }))).toEqual({ removed: 0, not_assigned: 1 });
    expect(await result(api.del("/v1/users/u1/roles", { role_ids: [role] }))).toEqual({ removed: 1, not_assigned: 0 });
    expect((await moveTo(tenant, "DB_2")).state).toBe("done");
    expect(await rowsByShard(tenant)).toMatchObject({ DB: 0, DB_3: 0 });
    const members = (await api.get(`/v1/groups/${g}/members`)).json.result.map((m: { user_id: string }) => m.user_id).sort();
    expect(members).toEqual(["b", "x", "y"]);
    expect((await api.get(`/v1/groups/${g}/roles`)).json.result.map((r: { key: string }) => r.key)).toEqual(["auditor"]);
    expect((await api.get(`/v1/groups/${g}/children`)).json.result.map((c: { group_id: string }) => c.group_id)).toEqual([child]);
    expect((await api.get("/v1/users/u1/roles")).json.result).toEqual([]);
    expect(await result(api.del(`/v1/groups/${g}/children`, { group_ids: [child] }))).toMatchObject({ unlinked: 1, not_linked: 0 });
  });
});
