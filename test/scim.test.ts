import { describe, expect, it } from "vitest";
import { call, client, freshTenant, shardOf, token } from "./helpers";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

async function scim(tenant = freshTenant("scim")) {
  const t = await token({ tenant, scope: "scim" });
  const go = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(method, `/scim/v2${path}`, { token: t, body, headers: { "content-type": "application/scim+json", ...headers } });
  return {
    tenant,
    get: (p: string, h?: Record<string, string>) => go("GET", p, undefined, h),
    post: (p: string, b: unknown) => go("POST", p, b),
    put: (p: string, b: unknown, h?: Record<string, string>) => go("PUT", p, b, h),
    patch: (p: string, ops: unknown[], h?: Record<string, string>) => go("PATCH", p, { schemas: [PATCH], Operations: ops }, h),
    del: (p: string, h?: Record<string, string>) => go("DELETE", p, undefined, h),
  };
}

function expectScimError(res: { status: number; json: any }, status: number, scimType?: string) {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  expect(res.json.schemas).toEqual([ERROR]);
  expect(res.json.status).toBe(String(status));
  expect(typeof res.json.detail).toBe("string");
  if (scimType) expect(res.json.scimType).toBe(scimType);
}

const user = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER],
  userName,
  active: true,
  name: { givenName: "Ann", familyName: "Lee" },
  emails: [{ value: `${userName.toLowerCase()}@example.com`, type: "work", primary: true }],
  ...extra,
});

describe("SCIM users", () => {
  it("provisions, reads, replaces, patches and deletes a user, with meta and ETags", async () => {
    const s = await scim();
    const made = await s.post("/Users", user("ann.lee", { externalId: "okta-1", title: "Engineer" }));
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    expect(made.headers.get("content-type")).toContain("application/scim+json");
    expect(made.json).toMatchObject({
      schemas: [USER],
      userName: "ann.lee",
      externalId: "okta-1",
      active: true,
      title: "Engineer",
      meta: { resourceType: "User", version: 'W/"1"', location: expect.stringMatching(/\/scim\/v2\/Users\/[0-9a-f]{16}$/) },
    });
    const id = made.json.id;
    expect(made.headers.get("etag")).toBe('W/"1"');

    const read = await s.get(`/Users/${id}`);
    expect(read.headers.get("etag")).toBe('W/"1"');
    expect(read.json.emails).toEqual([{ value: "ann.lee@example.com", type: "work", primary: true }]);
    const native = await (await client(s.tenant)).get(`/v1/users/${id}`);
    expect(native.json.result).toMatchObject({ email: "ann.lee@example.com", given_name: "Ann", family_name: "Lee" });

    expect(
      (
        await s.patch(`/Users/${id}`, [
          { op: "Replace", path: "active", value: false },
          { op: "add", path: "nickName", value: "Annie" },
        ])
      ).status,
    ).toBe(204);
    const patched = await s.get(`/Users/${id}`);
    expect(patched.json).toMatchObject({ active: false, nickName: "Annie", meta: { version: 'W/"2"' } });

    const replaced = await s.put(`/Users/${id}`, user("ann.lee", { name: { givenName: "Anne", familyName: "Lee" } }));
    expect(replaced.status).toBe(200);
    expect(replaced.json.name.givenName).toBe("Anne");
    expect(replaced.json).not.toHaveProperty("nickName");

    expect((await s.del(`/Users/${id}`)).status).toBe(204);
    expectScimError(await s.get(`/Users/${id}`), 404);
  });

  it("refuses bad input in the SCIM error schema, changing nothing", async () => {
    const s = await scim();
    await s.post("/Users", user("taken"));
    expectScimError(await s.post("/Users", user("TAKEN")), 409, "uniqueness");
    expectScimError(await s.post("/Users", { schemas: [USER], active: true }), 400, "invalidValue");
    expectScimError(
      await call("POST", "/scim/v2/Users", {
        token: await token({ tenant: s.tenant, scope: "scim" }),
        rawBody: "{nope",
        headers: { "content-type": "application/scim+json" },
      }),
      400,
      "invalidSyntax",
    );
    expectScimError(await s.get("/Users?filter=userName%20zz%20%22x%22"), 400, "invalidFilter");
    expectScimError(await s.get("/Users?filter=shoeSize%20eq%2042"), 400, "invalidFilter");
    expectScimError(await s.patch("/Users/nobody", [{ op: "replace", path: "active", value: false }]), 404);
    expectScimError(await s.patch(`/Users/${(await s.get("/Users")).json.Resources[0].id}`, [{ op: "explode", path: "active" }]), 400);
    expect((await s.get("/Users")).json.totalResults).toBe(1);
    const noScope = await call("GET", "/scim/v2/Users", { token: await token({ tenant: s.tenant, scope: "groups:read" }) });
    expectScimError(noScope, 403);
    expectScimError(await call("GET", "/scim/v2/Users"), 401);
  });

  it("filters with every operator, case-insensitively, and pages by startIndex and count", async () => {
    const s = await scim();
    for (const [name, family, active] of [
      ["Olivia", "Stone", true],
      ["oscar", "Stone", false],
      ["Mia", "Ray", true],
      ["Noah", "Ray", true],
      ["Emma", "Hale", true],
    ] as const) {
      expect(
        (await s.post("/Users", user(name, { name: { givenName: name, familyName: family }, active, externalId: `ext-${name}` }))).status,
      ).toBe(201);
    }
    const names = async (filter: string) =>
      ((await s.get(`/Users?filter=${encodeURIComponent(filter)}`)).json.Resources as any[]).map((r) => r.userName).sort();
    expect(await names('userName eq "olivia"')).toEqual(["Olivia"]);
    expect(await names("UserName sw O")).toEqual(["Olivia", "oscar"]);
    expect(await names('userName ew "a"')).toEqual(["Emma", "Mia", "Olivia"]);
    expect(await names('userName co "OA"')).toEqual(["Noah"]);
    expect(await names('name.familyName ne "Stone"')).toEqual(["Emma", "Mia", "Noah"]);
    expect(await names("title pr")).toEqual([]);
    expect(await names("externalId pr and active eq false")).toEqual(["oscar"]);
    expect(await names('name.familyName eq Ray or (emails.value co "emma" and not (active eq false))')).toEqual(["Emma", "Mia", "Noah"]);
    expect(await names('emails[type eq "work" and value sw "mia"]')).toEqual(["Mia"]);
    expect(await names("meta.created gt 2015-10-10T14:38:21.8617979-07:00")).toHaveLength(5);
    expect(await names(`meta.created lt ${new Date(Date.now() - 3_600_000).toISOString()}`)).toEqual([]);
    expect(await names(`meta.lastModified ge ${new Date(Date.now() - 3_600_000).toISOString()}`)).toHaveLength(5);
    expect(await names(`meta.created le ${new Date(Date.now() + 3_600_000).toISOString()} and userName ge "O"`)).toEqual([
      "Olivia",
      "oscar",
    ]);
    expect(await names('externalId eq "EXT-MIA"')).toEqual([]);

    const page = await s.get("/Users?startIndex=2&count=2");
    expect(page.json).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    const all = (await s.get("/Users")).json.Resources.map((r: any) => r.id);
    expect(page.json.Resources.map((r: any) => r.id)).toEqual(all.slice(1, 3));
    expect((await s.get("/Users?startIndex=5&count=10")).json.itemsPerPage).toBe(1);
    expect((await s.get("/Users?count=0")).json).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });

    const projected = (await s.get("/Users?attributes=userName&count=1")).json.Resources[0];
    expect(Object.keys(projected).sort()).toEqual(["id", "schemas", "userName"]);
    const excluded = (await s.get("/Users?excludedAttributes=emails,name&count=1")).json.Resources[0];
    expect(excluded).not.toHaveProperty("emails");
    expect(excluded).toHaveProperty("userName");
  });

  it("refuses a PATCH that gives an attribute the wrong type or changes id or meta, changing nothing", async () => {
    const s = await scim();
    const made = await s.post("/Users", user("typed", { title: "Engineer" }));
    const id = made.json.id;
    const refusals: [unknown[], string][] = [
      [[{ op: "replace", path: "name.givenName", value: 5 }], "invalidValue"],
      [[{ op: "replace", path: "title", value: 7 }], "invalidValue"],
      [[{ op: "replace", value: { nickName: ["a"] } }], "invalidValue"],
      [[{ op: "replace", path: "externalId", value: "x".repeat(257) }], "invalidValue"],
      [[{ op: "replace", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", value: 3 }], "invalidValue"],
      [[{ op: "replace", path: "id", value: "someone-else" }], "mutability"],
      [[{ op: "replace", path: "meta.created", value: "2001-01-01T00:00:00Z" }], "mutability"],
    ];
    for (const [ops, scimType] of refusals) expectScimError(await s.patch(`/Users/${id}`, ops), 400, scimType);
    // Okta and Entra send these: the user's own id, and the manager as a bare id.
    const manager = { op: "add", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", value: "boss-1" };
    expect((await s.patch(`/Users/${id}`, [{ op: "replace", path: "id", value: id }, manager])).status).toBe(204);
    const read = await s.get(`/Users/${id}`);
    expect(read.json).toMatchObject({ id, title: "Engineer", name: { givenName: "Ann", familyName: "Lee" }, meta: { version: 'W/"2"' } });
    expect(read.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]).toEqual({ manager: "boss-1" });
    expect(read.json.externalId).toBeUndefined();

    // A value stored before types were checked does not block a change that leaves it as it is (a deprovisioning).
    await (await shardOf(s.tenant))
      .prepare("UPDATE users SET scim_attributes = json_set(scim_attributes, '$.title', 7) WHERE tenant_id = ? AND id = ?")
      .bind(s.tenant, id)
      .run();
    expect((await s.patch(`/Users/${id}`, [{ op: "replace", path: "active", value: false }])).status).toBe(204);
    expect((await s.get(`/Users/${id}`)).json).toMatchObject({ active: false, title: 7 });
    expectScimError(await s.patch(`/Users/${id}`, [{ op: "replace", path: "title", value: 8 }]), 400, "invalidValue");
    expect((await s.patch(`/Users/${id}`, [{ op: "replace", path: "title", value: "Lead" }])).status).toBe(204);
    expect((await s.get(`/Users/${id}`)).json.title).toBe("Lead");
  });

  it("projects attributes named by path, also the enterprise extension's by its URN", async () => {
    const s = await scim();
    const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const created = await s.post(
      "/Users",
      user("proj", { schemas: [USER, ENTERPRISE], [ENTERPRISE]: { employeeNumber: "7", department: "R&D", manager: { value: "m1" } } }),
    );
    expect(created.status).toBe(201);
    const get = async (query: string) => (await s.get(`/Users/${created.json.id}?${query}`)).json;

    expect(await get(`attributes=${ENTERPRISE}:employeeNumber`)).toEqual({
      schemas: [USER, ENTERPRISE],
      id: created.json.id,
      [ENTERPRISE]: { employeeNumber: "7" },
    });
    expect((await get(`attributes=${ENTERPRISE}`))[ENTERPRISE]).toEqual({
      employeeNumber: "7",
      department: "R&D",
      manager: { value: "m1" },
    });
    expect((await get(`attributes=${ENTERPRISE.toUpperCase()}:MANAGER.value,userName`))[ENTERPRISE]).toEqual({ manager: { value: "m1" } });
    // The whole attribute asked for beside one of its sub-attributes: the whole.
    expect((await get("attributes=name,name.givenName")).name).toEqual({ givenName: "Ann", familyName: "Lee" });
    expect(await get(`attributes=${USER}:name.familyName`)).toMatchObject({ name: { familyName: "Lee" } });
    expect(await get(`excludedAttributes=${ENTERPRISE}`)).not.toHaveProperty(ENTERPRISE);
    expect(await get(`excludedAttributes=${ENTERPRISE}`)).toHaveProperty("userName", "proj");
    const listed = (await s.get(`/Users?attributes=${ENTERPRISE}:department&filter=userName eq "proj"`)).json.Resources[0];
    expect(listed[ENTERPRISE]).toEqual({ department: "R&D" });
  });

  it("answers 412 to a stale If-Match and changes nothing", async () => {
    const s = await scim();
    const id = (await s.post("/Users", user("etag"))).json.id;
    expect((await s.patch(`/Users/${id}`, [{ op: "replace", path: "displayName", value: "One" }], { "if-match": 'W/"1"' })).status).toBe(
      204,
    );
    expectScimError(await s.patch(`/Users/${id}`, [{ op: "replace", path: "displayName", value: "Two" }], { "if-match": 'W/"1"' }), 412);
    expectScimError(await s.put(`/Users/${id}`, user("etag"), { "if-match": 'W/"1"' }), 412);
    expectScimError(await s.del(`/Users/${id}`, { "if-match": 'W/"7"' }), 412);
    expect((await s.get(`/Users/${id}`)).json).toMatchObject({ displayName: "One", meta: { version: 'W/"2"' } });
  });

  it("applies one of two writes sent at once with the same If-Match, and answers the other 412", async () => {
    const s = await scim();
    const userId = (await s.post("/Users", user("tagged-twice"))).json.id;
    const groupId = (await s.post("/Groups", { schemas: [GROUP], displayName: "Tagged", members: [] })).json.id;
    const tag = { "if-match": 'W/"1"' };
    for (const [what, path, write] of [
      ["user PATCH", `/Users/${userId}`, (v: string) => s.patch(`/Users/${userId}`, [{ op: "replace", path: "title", value: v }], tag)],
      [
        "group PATCH",
        `/Groups/${groupId}`,
        (v: string) => s.patch(`/Groups/${groupId}`, [{ op: "replace", path: "displayName", value: v }], tag),
      ],
    ] as const) {
      const answers = await Promise.all(["First", "Second"].map(write));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses, `${what}: ${answers.map((a) => a.text)}`).toEqual([204, 412]);
      const applied = answers[0]!.status === 204 ? "First" : "Second";
      const now = (await s.get(path)).json;
      expect(now.title ?? now.displayName, what).toBe(applied);
    }
  });
});

describe("SCIM groups", () => {
  it("runs the Okta sequence: create, add and remove members, rename, deprovision; /v1 sees the same group", async () => {
    const s = await scim();
    const ann = (await s.post("/Users", user("ann"))).json.id;
    const bob = (await s.post("/Users", user("bob"))).json.id;
    const g = await s.post("/Groups", { schemas: [GROUP], displayName: "Engineering", members: [] });
    expect(g.status).toBe(201);
    expect(g.json).toMatchObject({ displayName: "Engineering", members: [], meta: { resourceType: "Group", version: 'W/"1"' } });
    const id = g.json.id;
    // Okta: PATCH add with value objects, remove by filter path, rename with replace of displayName.
    expect(
      (
        await s.patch(`/Groups/${id}`, [
          {
            op: "add",
            path: "members",
            value: [
              { value: ann, display: "Ann" },
              { value: bob, display: "Bob" },
            ],
          },
        ])
      ).status,
    ).toBe(204);
    expect((await s.patch(`/Groups/${id}`, [{ op: "remove", path: `members[value eq "${bob}"]` }])).status).toBe(204);
    expect((await s.patch(`/Groups/${id}`, [{ op: "replace", value: { id, displayName: "Platform" } }])).status).toBe(204);
    const read = await s.get(`/Groups/${id}`);
    expect(read.json).toMatchObject({ displayName: "Platform", members: [{ value: ann, display: "Ann", type: "User" }] });
    expect(read.json.members[0].$ref).toMatch(new RegExp(`/scim/v2/Users/${ann}$`));

    const native = await client(s.tenant);
    expect((await native.get(`/v1/groups/${id}`)).json.result).toMatchObject({ name: "Platform", member_count: 1 });
    expect((await native.get(`/v1/groups/${id}/members`)).json.result.map((m: any) => m.user_id)).toEqual([ann]);

    // Deprovision: the user deactivated, then deleted; the group then deleted.
    expect((await s.patch(`/Users/${ann}`, [{ op: "replace", path: "active", value: false }])).status).toBe(204);
    expect((await s.del(`/Users/${ann}`)).status).toBe(204);
    expect((await s.get(`/Groups/${id}`)).json.members).toEqual([]);
    expect((await s.del(`/Groups/${id}`)).status).toBe(204);
    expect((await native.get(`/v1/groups/${id}`)).status).toBe(404);
  });

  it("runs the Entra sequence: op names in any case, replace of members, bare-string values, remove all; filters and excludedAttributes", async () => {
    const s = await scim();
    const [a, b, c] = [
      (await s.post("/Users", user("a1"))).json.id,
      (await s.post("/Users", user("b1"))).json.id,
      (await s.post("/Users", user("c1"))).json.id,
    ];
    const id = (await s.post("/Groups", { schemas: [GROUP], displayName: "Sales", externalId: "entra-7", members: [{ value: a }] })).json
      .id;
    expect((await s.patch(`/Groups/${id}`, [{ op: "Add", path: "members", value: b }])).status).toBe(204);
    expect((await s.patch(`/Groups/${id}`, [{ op: "Replace", path: "members", value: [{ value: b }, { value: c }] }])).status).toBe(204);
    const members = async () => ((await s.get(`/Groups/${id}`)).json.members as any[]).map((m) => m.value).sort();
    expect(await members()).toEqual([b, c].sort());
    expect((await s.patch(`/Groups/${id}`, [{ op: "Remove", path: "members", value: [{ value: c }] }])).status).toBe(204);
    expect(await members()).toEqual([b]);

    const byName = await s.get(`/Groups?filter=${encodeURIComponent('displayName eq "sales"')}&excludedAttributes=members`);
    expect(byName.json.totalResults).toBe(1);
    expect(byName.json.Resources[0]).not.toHaveProperty("members");
    expect((await s.get(`/Groups?filter=${encodeURIComponent(`members.value eq "${b}"`)}`)).json.totalResults).toBe(1);
    expect((await s.get(`/Groups?filter=${encodeURIComponent('externalId eq "entra-7"')}`)).json.Resources[0].id).toBe(id);
    expect((await s.get(`/Groups/${id}?excludedAttributes=members`)).json).not.toHaveProperty("members");

    expect((await s.patch(`/Groups/${id}`, [{ op: "remove", path: "members" }])).status).toBe(204);
    expect(await members()).toEqual([]);
    expectScimError(await s.post("/Groups", { schemas: [GROUP], displayName: "SALES" }), 409, "uniqueness");
    expectScimError(await s.patch(`/Groups/${id}`, [{ op: "replace", path: "owners", value: [] }]), 400, "invalidPath");
    // Another tenant's group is not there.
    expectScimError(await (await scim()).get(`/Groups/${id}`), 404);
  });

  it("checks a group's displayName and externalId in a PATCH as POST does, and keeps id and meta read-only", async () => {
    const s = await scim();
    const g = await s.post("/Groups", { schemas: [GROUP], displayName: "Eng", externalId: "ext-1" });
    const id = g.json.id;
    const refusals: [unknown[], string][] = [
      [[{ op: "replace", path: "displayName", value: 42 }], "invalidValue"],
      [[{ op: "replace", path: "displayName", value: "   " }], "invalidValue"],
      [[{ op: "replace", path: "displayName", value: null }], "invalidValue"],
      [[{ op: "replace", path: "displayName", value: "x".repeat(201) }], "invalidValue"],
      [[{ op: "replace", path: "displayName", value: "Admins\u202Esnimda" }], "invalidValue"],
      [[{ op: "replace", path: "displayName", value: "Eng\u0000" }], "invalidValue"],
      [[{ op: "replace", value: { displayName: { text: "Eng" } } }], "invalidValue"],
      [[{ op: "replace", value: ["displayName"] }], "invalidValue"],
      [[{ op: "replace", path: "externalId", value: 5 }], "invalidValue"],
      [[{ op: "replace", path: "externalId", value: "y".repeat(257) }], "invalidValue"],
      [[{ op: "replace", path: "id", value: "other" }], "mutability"],
      [[{ op: "replace", path: "meta.lastModified", value: "2001-01-01T00:00:00Z" }], "mutability"],
      [[{ op: "replace", value: { id: "other", displayName: "Eng 2" } }], "mutability"],
      // A PATCH is atomic (RFC 7644 §3.5.2): the good operations before the bad one are not applied either.
      [
        [
          { op: "replace", path: "externalId", value: "ext-2" },
          { op: "add", path: "members", value: [{ value: "m1" }] },
          { op: "replace", path: "displayName", value: "" },
        ],
        "invalidValue",
      ],
      [
        [
          { op: "replace", path: "displayName", value: "Eng 3" },
          { op: "add", path: "members", value: [{ display: "no value" }] },
        ],
        "invalidValue",
      ],
    ];
    for (const [ops, scimType] of refusals) expectScimError(await s.patch(`/Groups/${id}`, ops), 400, scimType);
    const badMembers = await s.patch(`/Groups/${id}`, [{ op: "add", path: "members", value: 42 }]);
    expectScimError(badMembers, 400, "invalidValue");
    expect(badMembers.json.detail).toMatch(/^members must be a list of \{value, display\}/);
    const badName = await s.patch(`/Groups/${id}`, [{ op: "replace", path: "displayName", value: "" }]);
    expect(badName.json.detail).toBe("displayName must not be empty");
    expectScimError(await s.post("/Groups", { schemas: [GROUP], displayName: "Eng\u2066x" }), 400, "invalidValue");
    // A name clash found while applying comes before any member change.
    const ann = (await s.post("/Users", user("ann"))).json.id;
    await s.post("/Groups", { schemas: [GROUP], displayName: "Taken" });
    const clash = await s.patch(`/Groups/${id}`, [
      { op: "add", path: "members", value: [{ value: ann }] },
      { op: "replace", path: "displayName", value: "taken" },
    ]);
    expectScimError(clash, 409, "uniqueness");
    const read = await s.get(`/Groups/${id}`);
    expect(read.json).toMatchObject({ id, displayName: "Eng", externalId: "ext-1", members: [], meta: { version: 'W/"1"' } });
    expect((await s.get("/Groups")).json.totalResults).toBe(2);
    // An RTL name with its marks, and an emoji sequence with joiners, are names people write.
    expect((await s.patch(`/Groups/${id}`, [{ op: "replace", path: "displayName", value: "\u200Fצוות 👩\u200D💻" }])).status).toBe(204);
    expect((await s.get(`/Groups/${id}`)).json.displayName).toBe("\u200Fצוות 👩\u200D💻");
  });

  it("nests a group given as a member, as a child group", async () => {
    const s = await scim();
    const child = (await s.post("/Groups", { schemas: [GROUP], displayName: "Storage" })).json.id;
    const parent = (await s.post("/Groups", { schemas: [GROUP], displayName: "Platform", members: [{ value: child }] })).json.id;
    expect((await s.get(`/Groups/${parent}`)).json.members).toMatchObject([{ value: child, type: "Group", display: "Storage" }]);
    const native = await client(s.tenant);
    expect((await native.get(`/v1/groups/${parent}/children`)).json.result.map((g: any) => g.group_id)).toEqual([child]);
  });
});

describe("SCIM bulk and discovery", () => {
  it("resolves bulkId references and reports each operation", async () => {
    const s = await scim();
    const r = await s.post("/Bulk", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
      Operations: [
        { method: "POST", path: "/Users", bulkId: "u1", data: user("bulk.one") },
        {
          method: "POST",
          path: "/Groups",
          bulkId: "g1",
          data: { schemas: [GROUP], displayName: "Bulk", members: [{ value: "bulkId:u1" }] },
        },
        {
          method: "PATCH",
          path: "/Users/bulkId:u1",
          data: { schemas: [PATCH], Operations: [{ op: "replace", path: "title", value: "Lead" }] },
        },
      ],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.Operations.map((o: any) => [o.method, o.bulkId, o.status])).toEqual([
      ["POST", "u1", "201"],
      ["POST", "g1", "201"],
      ["PATCH", undefined, "204"],
    ]);
    const groupId = r.json.Operations[1].location.split("/").pop();
    const userId = r.json.Operations[0].location.split("/").pop();
    expect((await s.get(`/Groups/${groupId}`)).json.members.map((m: any) => m.value)).toEqual([userId]);
    expect((await s.get(`/Users/${userId}`)).json.title).toBe("Lead");
  });

  it("stops after failOnErrors errors and refuses more than 1,000 operations", async () => {
    const s = await scim();
    await s.post("/Users", user("dup"));
    const r = await s.post("/Bulk", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
      failOnErrors: 1,
      Operations: [
        { method: "POST", path: "/Users", bulkId: "x", data: user("dup") },
        { method: "POST", path: "/Users", bulkId: "y", data: user("never") },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.Operations).toHaveLength(1);
    expect(r.json.Operations[0]).toMatchObject({ status: "409", response: { scimType: "uniqueness" } });
    expect((await s.get(`/Users?filter=${encodeURIComponent('userName eq "never"')}`)).json.totalResults).toBe(0);

    const tooMany = await s.post("/Bulk", {
      schemas: [],
      Operations: Array.from({ length: 1001 }, () => ({ method: "DELETE", path: "/Users/x" })),
    });
    expectScimError(tooMany, 413, "tooMany");
    const unresolved = await s.post("/Bulk", { schemas: [], Operations: [{ method: "DELETE", path: "/Users/bulkId:nope" }] });
    expect(unresolved.json.Operations[0].status).toBe("409");
    // One bulkId for two new resources would leave "bulkId:twice" meaning either: the request is refused whole.
    const twice = await s.post("/Bulk", {
      schemas: [],
      Operations: [
        { method: "POST", path: "/Users", bulkId: "twice", data: user("first") },
        { method: "POST", path: "/Users", bulkId: "twice", data: user("second") },
        {
          method: "POST",
          path: "/Groups",
          bulkId: "g",
          data: { schemas: [GROUP], displayName: "Twice", members: [{ value: "bulkId:twice" }] },
        },
      ],
    });
    expectScimError(twice, 400, "invalidValue");
    expect(twice.json.detail).toContain("bulkId 'twice' is given to more than one operation");
    for (const userName of ["first", "second"]) {
      expect((await s.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).json.totalResults).toBe(0);
    }
    expect((await s.get(`/Groups?filter=${encodeURIComponent('displayName eq "Twice"')}`)).json.totalResults).toBe(0);
  });

  it("describes what it supports", async () => {
    const s = await scim();
    const config = (await s.get("/ServiceProviderConfig")).json;
    expect(config).toMatchObject({
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 1000, maxPayloadSize: 2097152 },
      filter: { supported: true },
      etag: { supported: true },
      sort: { supported: false },
    });
    expect((await s.get("/ResourceTypes")).json.Resources.map((r: any) => r.endpoint)).toEqual(["/Users", "/Groups"]);
    expect((await s.get("/Schemas")).json.Resources.map((r: any) => r.id)).toContain(USER);
    expect((await s.get("/users")).status).toBe(200);
  });
});
