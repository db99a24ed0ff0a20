// Membership rules, the first part: previewing who an expression selects (POST /v1/rules/preview).
import { describe, expect, it } from "vitest";
import { call, client, expectError, freshTenant, scimUsers } from "./helpers";

const PEOPLE: [string, Record<string, unknown>][] = [
  ["ann", { email: "Ann@Acme.com", name: "Ann Lee", given_name: "Ann", custom_data: { department: "Sales", level: 3 } }],
  ["bob", { email: "bob@acme.com", name: "Bob Stone", custom_data: { department: "R&D", level: 5 } }],
  ["cy", { email: "cy@other.org", name: "Cy Ames", custom_data: { department: "Sales" } }],
  ["dee", { phone_number: "+14155550123", name: "Dee", custom_data: {} }],
  ["eve", { email: "eve@acme.com", family_name: "Stone", custom_data: { department: "sales" } }],
];

async function tenantWithPeople() {
  const api = await client(freshTenant("rules"), { scope: "admin" });
  for (const [id, profile] of PEOPLE) expect((await api.put(`/v1/users/${id}`, profile)).status).toBeLessThan(300);
  return api;
}

const preview = async (api: Awaited<ReturnType<typeof client>>, expression: string, limit?: number) => {
  const res = await api.post("/v1/rules/preview", { expression, ...(limit ? { limit } : {}) });
  expect(res.status, res.text).toBe(200);
  return res.json.result as { matched: number; users: { user_id: string }[] };
};

describe("previewing a rule's expression", () => {
  it("selects exactly the users the filter names, over every attribute a rule may read", async () => {
    const api = await tenantWithPeople();
    const cases: [string, string[]][] = [
      ['email ew "@acme.com"', ["ann", "bob", "eve"]], // emails compare case-insensitively
      ['email ew "@acme.com" and custom_data.department eq "Sales"', ["ann", "eve"]], // values too, as in SCIM
      ["custom_data.level ge 4", ["bob"]],
      ["custom_data.department pr", ["ann", "bob", "cy", "eve"]],
      ['name sw "b" or family_name eq "stone"', ["bob", "eve"]],
      ['not (email pr) or given_name eq "ann"', ["ann", "dee"]],
      ['phone_number eq "+14155550123"', ["dee"]],
      ['user_id eq "Ann"', []], // ids compare exactly
      ['user_id eq "ann"', ["ann"]],
    ];
    for (const [expression, ids] of cases) {
      const found = await preview(api, expression);
      expect([found.matched, found.users.map((u) => u.user_id)], expression).toEqual([ids.length, ids]);
    }
  });

  it("agrees with SCIM's user list for the same filter", async () => {
    const api = await client(freshTenant("rules-scim"), { scope: "admin" });
    await scimUsers(api.token, [
      ["ann", "ann@acme.com"],
      ["bob", "BOB@Acme.com"],
      ["cy", "cy@other.org"],
      ["dee", "dee@acme.com.evil"],
    ]);
    const scim = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent('emails.value ew "@acme.com"')}`, { token: api.token });
    expect(scim.status).toBe(200);
    const viaScim = (scim.json.Resources as { id: string }[]).map((r) => r.id).sort();
    expect(viaScim).toHaveLength(2);
    const viaRule = (await preview(api, 'email ew "@acme.com"')).users.map((u) => u.user_id);
    expect(viaRule).toEqual(viaScim);
  });

  it("counts every match and returns the first ones by id, changing nothing", async () => {
    const api = await tenantWithPeople();
    const before = (await api.get("/v1/events")).json.result.length;
    const found = await preview(api, "user_id pr", 2);
    expect(found.matched).toBe(PEOPLE.length);
    expect(found.users.map((u) => u.user_id)).toEqual(["ann", "bob"]);
    expect(found.users[0]).toMatchObject({ email: "Ann@Acme.com", name: "Ann Lee" });
    expect((await preview(api, 'email eq "nobody@acme.com"')).matched).toBe(0);
    expect((await api.get("/v1/events")).json.result.length).toBe(before);
  });

  it("refuses bad expressions and bodies with a clear 400, and a caller without groups:write with 403", async () => {
    const api = await tenantWithPeople();
    for (const [body, says] of [
      [{ expression: 'title eq "x"' }, /may use email, name/],
      [{ expression: 'custom_data.a.b eq "x"' }, /unknown/],
      [{ expression: 'custom_data.bad$key eq "x"' }, /invalid filter/],
      [{ expression: "email ew" }, /invalid filter/],
      [{ expression: "" }, /empty/],
      [{ expression: 'user_id eq "a\u0000b"' }, /NUL/],
      [{ expression: `user_id eq "${"x".repeat(2_000)}"` }, /2000|2,000/],
      [{ expression: "user_id pr", limit: 101 }, /100/],
      [{ expression: "user_id pr", extra: true }, /extra/],
      [{ expression: 42 }, /string/],
    ] as const) {
      const res = await api.post("/v1/rules/preview", body);
      expectError(res, 400, "invalid");
      expect(res.json.error.message + JSON.stringify(res.json.error.details), JSON.stringify(body)).toMatch(says);
    }
    const values = Array.from({ length: 81 }, (_, i) => `user_id eq "u${i}"`).join(" or ");
    expectError(await api.post("/v1/rules/preview", { expression: values }), 400, "invalid");
    const reader = await client(api.tenant, { scope: "groups:read" });
    expectError(await reader.post("/v1/rules/preview", { expression: "user_id pr" }), 403, "forbidden");
  });

  it("sees only the caller's tenant", async () => {
    await tenantWithPeople();
    const other = await client(freshTenant("rules-other"), { scope: "groups:write" });
    expect(await preview(other, 'email ew "@acme.com"')).toEqual({ matched: 0, users: [] });
  });
});
