// A user's writes do not pass through a coordinator: each is one D1 batch. Racing writes on
// one user must still each answer as if it ran alone at some point: a write that names no
// version (no If-Match) never answers 412, and a PATCH that answers 200 answers its own change.
import { describe, expect, it } from "vitest";
import { analyticsWriteKey, call, client, scimUsers } from "./helpers";

const ROUNDS = 40;

describe("racing writes on one user", () => {
  it("answers each as one of the orders they could have run in", async () => {
    const api = await client();
    const seen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const id = `racer-${round}`;
      expect((await api.put(`/v1/users/${id}`, { name: "first" })).status).toBe(201);
      // Deletes, puts and patches, started in an order of their own each round.
      const writes = [
        ...["delete", "delete", "delete", "put", "put", "patch", "patch"].map((kind, i) => ({ kind, at: (i * 7 + round * 3) % 7 })),
      ].sort((a, b) => a.at - b.at);
      const answers = await Promise.all(
        writes.map(({ kind }) =>
          kind === "delete"
            ? api.del(`/v1/users/${id}`)
            : kind === "put"
              ? api.put(`/v1/users/${id}`, { name: "put" })
              : api.patch(`/v1/users/${id}`, { name: "patched" }),
        ),
      );
      answers.forEach((res, i) => {
        const kind = writes[i]!.kind;
        seen.add(`${kind} ${res.status}`);
        if (kind === "delete") expect([204, 404], `${kind}: ${res.text}`).toContain(res.status);
        if (kind === "put") {
          expect([200, 201], `${kind}: ${res.text}`).toContain(res.status);
          expect(res.json.result.name).toBe("put");
        }
        if (kind === "patch") {
          expect([200, 404], `${kind}: ${res.text}`).toContain(res.status);
          if (res.status === 200) expect(res.json.result.name, "a patch answers its own change").toBe("patched");
        }
      });
      // The user as stored is what the last write to land left: gone, or named by a put or a patch.
      const now = await api.get(`/v1/users/${id}`);
      expect([200, 404]).toContain(now.status);
      if (now.status === 200) expect(["put", "patched"]).toContain(now.json.result.name);
    }
    // The rounds raced: some deletes found the user and some found none.
    expect([...seen].sort()).toEqual(expect.arrayContaining(["delete 204", "delete 404"]));
  });
});

describe("racing analytics identify calls on one user", () => {
  it("keeps every call's traits, for a new user and for one that exists", async () => {
    const { admin, key } = await analyticsWriteKey();
    const auth = { authorization: `Basic ${btoa(`${key}:`)}` };
    for (let round = 0; round < 10; round++) {
      const userId = `identified-${round}`;
      // Odd rounds: a user that exists, with a trait of its own that the calls must keep.
      const existing = round % 2 === 1;
      if (existing) expect((await admin.put(`/v1/users/${userId}`, { custom_data: { kept: true } })).status).toBe(201);
      const answers = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          call("POST", "/v1/identify", { headers: auth, body: { userId, traits: { name: `name ${i}`, [`trait_${i}`]: i } } }),
        ),
      );
      for (const res of answers) expect(res.status, res.text).toBe(200);
      const user = await admin.get(`/v1/users/${userId}`);
      expect(user.status).toBe(200);
      expect(["name 0", "name 1", "name 2", "name 3"]).toContain(user.json.result.name);
      // Traits merge: each call's own trait is kept, whichever call wrote last.
      expect(user.json.result.custom_data).toEqual({ ...(existing ? { kept: true } : {}), trait_0: 0, trait_1: 1, trait_2: 2, trait_3: 3 });
    }
  });
});

describe("racing SCIM PATCHes on one user", () => {
  const ATTRIBUTES = {
    nickName: "Jo",
    title: "Engineer",
    userType: "Employee",
    preferredLanguage: "en-GB",
    locale: "en-GB",
    timezone: "Europe/London",
  };

  it("keeps each PATCH's change, as an identity provider sending them at once expects", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    for (let round = 0; round < 6; round++) {
      const [id] = await scimUsers(admin.token, [[`scim-racer-${round}`, `scim-racer-${round}@example.com`]]);
      const answers = await Promise.all(
        Object.entries(ATTRIBUTES).map(([path, value]) =>
          call("PATCH", `/scim/v2/Users/${id}`, {
            token: admin.token,
            body: { schemas: [patchOp], Operations: [{ op: "replace", path, value }] },
          }),
        ),
      );
      for (const res of answers) expect(res.status, res.text).toBeLessThan(300);
      const user = await call("GET", `/scim/v2/Users/${id}`, { token: admin.token });
      expect(user.json).toMatchObject(ATTRIBUTES);
    }
  });

  it("still answers 412 to a PATCH whose If-Match names an old version", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const [id] = await scimUsers(admin.token, [["scim-tagged", "scim-tagged@example.com"]]);
    const patch = (value: string, headers: Record<string, string> = {}) =>
      call("PATCH", `/scim/v2/Users/${id}`, {
        token: admin.token,
        headers,
        body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "title", value }] },
      });
    const first = await patch("First");
    const tag = first.headers.get("etag")!;
    expect((await patch("Second")).status).toBeLessThan(300);
    const stale = await patch("Third", { "if-match": tag });
    expect(stale.status, stale.text).toBe(412);
    expect((await call("GET", `/scim/v2/Users/${id}`, { token: admin.token })).json.title).toBe("Second");
  });
});

describe("a role given to a user who is being deleted", () => {
  it("never passes to a new user of the same id", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const role = (await admin.post("/v1/roles", { key: "approver", name: "Approver", level: 1 })).json.result.role_id;
    for (let round = 0; round < 10; round++) {
      const id = `leaver-${round}`;
      expect((await admin.put(`/v1/users/${id}`, { name: "first holder" })).status).toBe(201);
      // The role's request sent a little after the delete, by a different margin each round.
      const later = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const [deleted, given] = await Promise.all([
        admin.del(`/v1/users/${id}`),
        later(round % 5).then(() => admin.post(`/v1/users/${id}/roles`, { role_ids: [role] })),
      ]);
      expect(deleted.status).toBe(204);
      expect([200, 404], given.text).toContain(given.status);
      // Whichever ran first, the user the id names next starts with no role.
      expect((await admin.put(`/v1/users/${id}`, { name: "new holder" })).status).toBe(201);
      const roles = (await admin.get(`/v1/users/${id}/roles`)).json.result;
      expect(roles, `round ${round}: the role was ${given.status === 200 ? "given" : "refused"}`).toEqual([]);
    }
  });
});
