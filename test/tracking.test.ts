import { describe, expect, it } from "vitest";
import { call, client, freshTenant, runCron, shardOf, shardOfBound, token } from "./helpers";

const SEED_002_BODY = [
  {
    user_id: "1820abb7-e6d4-45ec-8bc5-9a5c13ba06ca",
    traits: { group_type: "Team", industry: "Telecommunications", name: "Acme", domain: "acme.com", planName: "Basic" },
    context: { group_id: "7cc972d3-685d-4106-a862-4fc37da0eca4" },
    timestamp: "2023-12-14T16:07:33.571125Z",
  },
];
// Seed 003's example, with a valid timestamp: its own ("20-11-23T22:28:55.111Z") is not ISO 8601.
const SEED_003_BODY = {
  user_id: "user123",
  group_id: "account123",
  traits: {
    name: "account name",
    industry: "industry belongs to",
    plan: "name of plan associate with account",
    employees: "total number of employees account have",
  },
  timestamp: "2023-11-20T22:28:55.111Z",
};

async function tracker(tenant = freshTenant("trk"), scope = "group_api") {
  const t = await token({ tenant, scope });
  const reader = await client(tenant);
  return {
    tenant,
    reader,
    send: (path: string, body: unknown) => call("POST", path, { token: t, body }),
    basic: (path: string, body: unknown) => call("POST", path, { body, headers: { authorization: `Basic ${btoa(`${t}:`)}` } }),
  };
}

const traitsOf = async (r: { reader: any }, group: string) =>
  Object.fromEntries(Object.entries((await r.reader.get(`/v1/groups/${group}/traits`)).json.result).map(([k, v]: any) => [k, v.value]));
const memberIds = async (r: { reader: any }, group: string) =>
  (await r.reader.get(`/v1/groups/${group}/members`)).json.result.map((m: any) => m.user_id);
const count = async (sql: string, ...args: unknown[]) =>
  (await (
    await shardOfBound(args)
  )
    .prepare(sql)
    .bind(...args)
    .first<{ n: number }>())!.n;

function event(i: number, over: Record<string, unknown> = {}) {
  return { user_id: `u${i}`, group_id: `g${i % 3}`, timestamp: "2024-01-01T00:00:00Z", traits: { group_type: "Account" }, ...over };
}

describe("analytics group calls", () => {
  it("applies seed 002's literal body (group_id in context) and reads it back through /v1", async () => {
    const t = await tracker();
    const r = await t.send("/api/group", SEED_002_BODY);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({ success: true, response_id: expect.any(String), message: "Group(s) updated successfully" });
    const g = (await t.reader.get("/v1/groups/7cc972d3-685d-4106-a862-4fc37da0eca4")).json.result;
    expect(g).toMatchObject({ name: "Acme", type: "Team", member_count: 1 });
    expect(await memberIds(t, g.group_id)).toEqual(["1820abb7-e6d4-45ec-8bc5-9a5c13ba06ca"]);
    expect(await traitsOf(t, g.group_id)).toEqual({
      group_type: "Team",
      industry: "Telecommunications",
      name: "Acme",
      domain: "acme.com",
      planName: "Basic",
    });
  });

  it("applies seed 003's body (with a valid timestamp), group_type optional, address an object", async () => {
    const t = await tracker();
    expect((await t.send("/group", SEED_003_BODY)).status).toBe(200);
    expect((await t.reader.get("/v1/groups/account123")).json.result).toMatchObject({ name: "account name", member_count: 1 });
    const withAddress = { ...SEED_003_BODY, traits: { address: { city: "Paris", country: "FR" } }, timestamp: "2023-11-21T00:00:00Z" };
    expect((await t.send("/group", withAddress)).status).toBe(200);
    expect((await traitsOf(t, "account123")).address).toEqual({ city: "Paris", country: "FR" });

    const bad = await t.send("/group", { ...SEED_003_BODY, traits: { address: { town: "Paris" } } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0]).toMatchObject({ index: 0, field: "traits.address" });
    const noTraits = await t.send("/group", { user_id: "u", group_id: "g", timestamp: "2023-11-21T00:00:00Z" });
    expect(noTraits.status).toBe(400);
    const seedTimestamp = await t.send("/group", { ...SEED_003_BODY, timestamp: "20-11-23T22:28:55.111Z" });
    expect(seedTimestamp.status).toBe(400);
    expect(seedTimestamp.json.errors[0].field).toBe("timestamp");
  });

  it("validates the whole request first: one bad event is 400 listing it, and nothing is applied", async () => {
    const t = await tracker();
    const body = [
      event(1),
      event(2, { traits: { group_type: "Team", enrichment_employees: "many" } }),
      event(3, { timestamp: "yesterday" }),
      event(4, { traits: {} }),
    ];
    const r = await t.send("/api/group", body);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ success: false, response_id: expect.any(String), message: expect.stringContaining("3 of 4") });
    expect(r.json.errors.map((e: any) => [e.index, e.field])).toEqual([
      [1, "traits.enrichment_employees"],
      [2, "timestamp"],
      [3, "traits.group_type"],
    ]);
    expect(await count("SELECT count(*) AS n FROM groups WHERE tenant_id = ?", t.tenant)).toBe(0);

    const typed = await t.send("/api/group", [
      event(1, { traits: { group_type: "Team", enrichment_domain_aliases: ["a.com", "b.com"], enrichment_founder_year: 1999 } }),
    ]);
    expect(typed.status).toBe(200);
    expect(await traitsOf(t, "g1")).toMatchObject({ enrichment_domain_aliases: ["a.com", "b.com"], enrichment_founder_year: 1999 });
  });

  it("limits: 1,000 events pass and 1,001 fail; 100 groups pass and 101 fail; 2 MB is 413", async () => {
    const t = await tracker();
    const many = (n: number, groups: number) => Array.from({ length: n }, (_, i) => ({ ...event(i), group_id: `grp-${i % groups}` }));
    const over = await t.send("/api/group", many(1001, 10));
    expect(over.status).toBe(400);
    expect(over.json.message).toMatch(/at most 1000 events/);
    const overGroups = await t.send("/api/group", many(101, 101));
    expect(overGroups.status).toBe(400);
    expect(overGroups.json.message).toMatch(/at most 100 groups/);
    expect(await count("SELECT count(*) AS n FROM groups WHERE tenant_id = ?", t.tenant)).toBe(0);

    expect((await t.send("/api/group", many(1000, 100))).status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM groups WHERE tenant_id = ?", t.tenant)).toBe(100);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE tenant_id = ?", t.tenant)).toBe(1000);

    const huge = JSON.stringify([event(1, { traits: { group_type: "T", filler: "x".repeat(2 * 1024 * 1024) } })]);
    const tooBig = await call("POST", "/api/group", {
      token: await token({ tenant: t.tenant, scope: "group_api" }),
      rawBody: huge,
      headers: { "content-type": "application/json" },
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.success).toBe(false);
  });

  it("merges traits per key by event time: out-of-order delivery ends in the same state", async () => {
    const inOrder = await tracker();
    const outOfOrder = await tracker();
    const older = {
      user_id: "a",
      group_id: "acct",
      timestamp: "2024-01-01T00:00:00Z",
      traits: { group_type: "Account", plan: "free", seats: 1, name: "Acme" },
    };
    const newer = {
      user_id: "b",
      group_id: "acct",
      timestamp: "2024-02-01T00:00:00Z",
      traits: { group_type: "Account", plan: "pro", name: "Acme Corp" },
    };
    await inOrder.send("/api/group", [older]);
    await inOrder.send("/api/group", [newer]);
    await outOfOrder.send("/api/group", [newer]);
    await outOfOrder.send("/api/group", [older]);
    for (const t of [inOrder, outOfOrder]) {
      expect(await traitsOf(t, "acct")).toEqual({ group_type: "Account", plan: "pro", seats: 1, name: "Acme Corp" });
      expect((await t.reader.get("/v1/groups/acct")).json.result).toMatchObject({ name: "Acme Corp", member_count: 2 });
    }
  });

  it("does not believe a time far ahead of arrival: a device clock set years ahead cannot pin a trait", async () => {
    const t = await tracker();
    const at = (plan: string, timestamp: string) => ({
      user_id: "a",
      group_id: "acct",
      timestamp,
      traits: { group_type: "Account", plan },
    });
    const eventAt = async () => (await t.reader.get("/v1/groups/acct/traits")).json.result.plan.event_at as number;
    const before = Date.now();
    expect((await t.send("/api/group", [at("from 9999", "9999-12-31T23:59:59Z")])).status).toBe(200);
    // Taken as when it arrived, not as the year 9999.
    expect(await eventAt()).toBeGreaterThanOrEqual(before);
    expect(await eventAt()).toBeLessThanOrEqual(Date.now());
    await new Promise((r) => setTimeout(r, 5));
    // So a later call, from a device with a right clock, changes the trait again.
    expect((await t.send("/api/group", [at("now", new Date().toISOString())])).status).toBe(200);
    expect(await traitsOf(t, "acct")).toMatchObject({ plan: "now" });
    // A clock a minute ahead is within what clocks drift: its time is kept.
    const soon = Date.now() + 60_000;
    expect((await t.send("/api/group", [at("a minute ahead", new Date(soon).toISOString())])).status).toBe(200);
    expect(await eventAt()).toBe(soon);
    expect(await traitsOf(t, "acct")).toMatchObject({ plan: "a minute ahead" });
  });

  it("Segment: sentAt corrects a device's clock skew, as Segment does", async () => {
    const t = await tracker();
    const ahead = 2 * 86_400_000; // the device's clock is two days fast
    const sent = Date.now() + ahead;
    const event = { type: "group", userId: "a", groupId: "skewed", traits: { plan: "pro" }, messageId: "s1" };
    const before = Date.now();
    const r = await t.basic("/v1/batch", {
      batch: [{ ...event, timestamp: new Date(sent - 1_000).toISOString() }],
      sentAt: new Date(sent).toISOString(),
    });
    expect(r.status, r.text).toBe(200);
    // About a second before it arrived, whatever the device's clock said.
    const { event_at } = (await t.reader.get("/v1/groups/skewed/traits")).json.result.plan;
    expect(event_at).toBeGreaterThanOrEqual(before - 1_000);
    expect(event_at).toBeLessThanOrEqual(Date.now() - 1_000);
    // analytics.js puts sentAt on each event of a single call.
    const single = await t.basic("/v1/group", {
      ...event,
      messageId: "s2",
      traits: { seats: 3 },
      timestamp: new Date(sent - 5_000).toISOString(),
      sentAt: new Date(sent).toISOString(),
    });
    expect(single.status, single.text).toBe(200);
    const seats = (await t.reader.get("/v1/groups/skewed/traits")).json.result.seats.event_at;
    expect(seats).toBeLessThanOrEqual(Date.now() - 5_000);
    expect(seats).toBeGreaterThanOrEqual(before - 5_000);
    // An event's own sentAt wins over its batch's; a batch sentAt that is not a date-time corrects nothing.
    const past = Date.parse("2024-06-01T00:00:00Z");
    const mixed = await t.basic("/v1/batch", {
      batch: [
        {
          ...event,
          messageId: "s3",
          traits: { region: "eu" },
          timestamp: new Date(sent - 2_000).toISOString(),
          sentAt: new Date(sent).toISOString(),
        },
        { ...event, messageId: "s4", traits: { tier: "gold" }, timestamp: new Date(past).toISOString() },
      ],
      sentAt: "not a time",
    });
    expect(mixed.status, mixed.text).toBe(200);
    expect(mixed.json).toEqual({ success: true });
    const traits = (await t.reader.get("/v1/groups/skewed/traits")).json.result;
    expect(traits.region.event_at).toBeLessThanOrEqual(Date.now() - 2_000);
    expect(traits.region.event_at).toBeGreaterThanOrEqual(before - 2_000);
    expect(traits.tier.event_at).toBe(past);
    // An event's sentAt that is not a date-time is that event's error: it is dropped and reported.
    const badSent = await t.basic("/v1/batch", { batch: [{ ...event, messageId: "s5", traits: { x: 1 }, sentAt: "yesterday" }] });
    expect(badSent.json.dropped).toEqual([{ index: 0, messageId: "s5", errors: ["sentAt: must be an ISO 8601 date-time"] }]);
    expect((await t.reader.get("/v1/groups/skewed/traits")).json.result.x).toBeUndefined();
  });

  it("de-duplicates by message_id: a retried request changes nothing the second time", async () => {
    const t = await tracker();
    const body = [event(1, { message_id: "m-1", traits: { group_type: "Account", plan: "pro" } })];
    expect((await t.send("/api/group", body)).status).toBe(200);
    // Deleting the user takes the analytics membership with it (a native remove clears only the direct source).
    expect((await t.reader.del("/v1/users/u1")).status).toBe(204);
    const again = await t.send("/api/group", body);
    expect(again.json).toMatchObject({ success: true, duplicates: 1 });
    expect(await memberIds(t, "g1")).toEqual([]);
  });

  it("keeps the group's name and warns when traits.name clashes with another group", async () => {
    const t = await tracker();
    await t.reader.post("/v1/groups", { name: "Taken" });
    const r = await t.send("/api/group", [event(1, { group_id: "new-acct", traits: { group_type: "Account", name: "Taken" } })]);
    expect(r.status).toBe(200);
    expect(r.json.warnings).toEqual([{ index: 0, message: expect.stringContaining("another group is named 'Taken'") }]);
    expect((await t.reader.get("/v1/groups/new-acct")).json.result.name).toBe("new-acct");
    expect((await traitsOf(t, "new-acct")).name).toBe("Taken");

    await t.send("/api/group", [event(2, { group_id: "old-acct", traits: { group_type: "Account", name: "Original" } })]);
    const rename = await t.send("/api/group", [
      event(2, { group_id: "old-acct", timestamp: "2024-05-01T00:00:00Z", traits: { group_type: "Account", name: "taken" } }),
    ]);
    expect(rename.json.warnings[0].message).toContain("keeps the name 'Original'");
    expect((await t.reader.get("/v1/groups/old-acct")).json.result.name).toBe("Original");
  });

  it("does not name a group with a name trait holding control characters or a bidi override, and says so", async () => {
    const t = await tracker();
    const spoof = "Admins\u202Esnimda";
    const r = await t.send("/api/group", [event(1, { group_id: "acct-x", traits: { group_type: "Account", name: spoof } })]);
    expect(r.status).toBe(200);
    expect(r.json.warnings).toEqual([{ index: 0, message: expect.stringContaining("traits.name must not hold control characters") }]);
    expect((await t.reader.get("/v1/groups/acct-x")).json.result.name).toBe("acct-x");
    expect((await traitsOf(t, "acct-x")).name).toBe(spoof);

    expect((await t.send("/api/group", [event(2, { group_id: "acct-x", traits: { group_type: "Account", name: "Acme" } })])).status).toBe(
      200,
    );
    const renamed = await t.send("/api/group", [event(3, { group_id: "acct-x", traits: { group_type: "Account", name: "Acme\nInc" } })]);
    expect(renamed.status).toBe(200);
    expect(renamed.json.warnings[0].message).toContain("the group keeps its name");
    expect((await t.reader.get("/v1/groups/acct-x")).json.result.name).toBe("Acme");
  });

  it("needs a token with group_api, telemetry_apis or admin", async () => {
    expect((await call("POST", "/api/group", { body: SEED_002_BODY })).status).toBe(401);
    const reader = await token({ tenant: freshTenant(), scope: "groups:read" });
    const r = await call("POST", "/api/group", { token: reader, body: SEED_002_BODY });
    expect(r.status).toBe(403);
    expect(r.json.success).toBe(false);
    const telemetry = await tracker(freshTenant(), "telemetry_apis");
    expect((await telemetry.send("/api/group", SEED_002_BODY)).status).toBe(200);
  });
});

describe("Segment HTTP API", () => {
  it("applies a batch of group and identify calls, acknowledging the rest", async () => {
    const t = await tracker();
    const r = await t.basic("/v1/batch", {
      batch: [
        {
          type: "identify",
          userId: "alice",
          traits: { email: "alice@example.com", name: "Alice", phone: "+14155550123", company: "Acme" },
          messageId: "i1",
        },
        {
          type: "group",
          userId: "alice",
          groupId: "acme",
          traits: { name: "Acme Inc.", employees: 42 },
          messageId: "g1",
          timestamp: "2024-01-01T00:00:00Z",
        },
        { type: "track", userId: "alice", event: "Signed Up", messageId: "t1" },
        { type: "group", anonymousId: "anon-1", groupId: "acme", originalTimestamp: "2024-01-02T00:00:00Z", messageId: "g2" },
      ],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({ success: true });
    expect((await t.reader.get("/v1/users/alice")).json.result).toMatchObject({
      email: "alice@example.com",
      name: "Alice",
      phone_number: "+14155550123",
      custom_data: { company: "Acme" },
    });
    expect((await t.reader.get("/v1/groups/acme")).json.result).toMatchObject({ name: "Acme Inc.", member_count: 2 });
    expect(await traitsOf(t, "acme")).toEqual({ name: "Acme Inc.", employees: 42 });
  });

  it("drops and reports a bad event in the middle of a batch, applying its neighbours", async () => {
    const t = await tracker();
    const r = await t.basic("/v1/batch", {
      batch: [
        { type: "group", userId: "u1", groupId: "g", messageId: "a" },
        { type: "group", userId: "u2", messageId: "b" },
        { type: "bogus", userId: "u3", messageId: "c" },
        { type: "group", userId: "u4", groupId: "g", messageId: "d" },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.success).toBe(true);
    expect(r.json.dropped.map((d: any) => [d.index, d.messageId])).toEqual([
      [1, "b"],
      [2, "c"],
    ]);
    expect(r.json.dropped[0].errors[0]).toMatch(/groupId/);
    expect(await memberIds(t, "g")).toEqual(["u1", "u4"]);
  });

  it("decodes gzip by its bytes whatever the Content-Type says, and single-event routes", async () => {
    const t = await tracker();
    const json = JSON.stringify({ batch: [{ type: "group", userId: "zip", groupId: "gz", messageId: "z1" }] });
    const gz = await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
    const tok = await token({ tenant: t.tenant, scope: "group_api" });
    const r = await call("POST", "/v1/batch", {
      rawBody: gz,
      headers: { authorization: `Basic ${btoa(`${tok}:`)}`, "content-type": "application/x-www-form-urlencoded" },
    });
    expect(r.status, r.text).toBe(200);
    expect(await memberIds(t, "gz")).toEqual(["zip"]);

    expect((await t.basic("/v1/group", { userId: "solo", groupId: "gz" })).status).toBe(200);
    expect(await memberIds(t, "gz")).toEqual(["solo", "zip"]);
    const bad = await call("POST", "/v1/batch", {
      rawBody: new Uint8Array([0x1f, 0x8b, 1, 2, 3]),
      headers: { authorization: `Basic ${btoa(`${tok}:`)}` },
    });
    expect(bad.status).toBe(400);
    expect((await call("POST", "/v1/batch", { body: { batch: [] }, headers: { authorization: "Basic Zm9vOg==" } })).status).toBe(401);
  });

  it("applies a retried batch once (same messageIds)", async () => {
    const t = await tracker();
    const batch = { batch: [{ type: "group", userId: "r1", groupId: "rg", messageId: "once", traits: { plan: "pro" } }] };
    await t.basic("/v1/batch", batch);
    expect((await t.reader.del("/v1/users/r1")).status).toBe(204);
    expect((await t.basic("/v1/batch", batch)).status).toBe(200);
    expect(await memberIds(t, "rg")).toEqual([]);
    expect(await count("SELECT count(*) AS n FROM tracking_messages WHERE tenant_id = ?", t.tenant)).toBe(1);
  });
});

describe("messageId retention", () => {
  it("the daily job forgets messageIds older than 8 days and keeps the rest", async () => {
    const tenant = freshTenant("purge");
    const day = 24 * 3600 * 1000;
    await (await shardOf(tenant)).batch([
      (await shardOf(tenant))
        .prepare("INSERT INTO tracking_messages (tenant_id, message_id, received_at) VALUES (?, 'old', ?)")
        .bind(tenant, Date.now() - 9 * day),
      (await shardOf(tenant))
        .prepare("INSERT INTO tracking_messages (tenant_id, message_id, received_at) VALUES (?, 'week', ?)")
        .bind(tenant, Date.now() - 7 * day),
    ]);
    await runCron("17 3 * * *");
    const left = await (await shardOf(tenant))
      .prepare("SELECT message_id FROM tracking_messages WHERE tenant_id = ? ORDER BY message_id")
      .bind(tenant)
      .all<{ message_id: string }>();
    expect(left.results.map((r) => r.message_id)).toEqual(["week"]);
  });
});

describe("role rule 2 on group calls", () => {
  it("does not add users to a group whose roles outrank the caller, and says so", async () => {
    const tenant = freshTenant("trk-role");
    const admin = await client(tenant, { scope: "admin" });
    const role = (await admin.post("/v1/roles", { key: "owner", name: "Owner", level: 0 })).json.result.role_id;
    await admin.post("/v1/groups", { name: "Guarded" });
    const guarded = (await admin.get("/v1/groups?search=Guarded")).json.result[0].group_id;
    await admin.post(`/v1/groups/${guarded}/roles`, { role_ids: [role] });
    const t = await token({ tenant, scope: "group_api" });
    const r = await call("POST", "/api/group", { token: t, body: [event(1, { group_id: guarded }), event(2, { group_id: "open-acct" })] });
    expect(r.status).toBe(200);
    expect(r.json.success).toBe(false);
    expect(r.json.failed).toEqual([{ index: 0, message: expect.stringContaining("higher than every role") }]);
    expect((await admin.get(`/v1/groups/${guarded}/members`)).json.result).toEqual([]);
    expect((await admin.get("/v1/groups/open-acct/members")).json.result.map((m: any) => m.user_id)).toEqual(["u2"]);
  });
});
