import { describe, expect, it } from "vitest";
import { pendingClaimWrites } from "../src/coordinator/claims-writers";
import { CLAIM_JOURNAL_DELAY_MS, journalClaim } from "../src/core/claims";
import { type Client, call, claimsSettled, claimsWritten, client, env, eventually, expectError, freshTenant, shardOf } from "./helpers";

async function newGroup(api: Client, name: string) {
  return (await api.post("/v1/groups", { name })).json.result.group_id as string;
}

const claimOf = async (api: Client, user: string) => (await api.get(`/v1/users/${user}/claims`)).json?.result;

/** Poll the claims endpoint until it shows the expected claim; returns how long that took. */
const claimBecomes = (api: Client, user: string, expected: unknown) =>
  eventually(async () => JSON.stringify(await claimOf(api, user)) === JSON.stringify(expected), 2_000);

describe("groups claim", () => {
  it("follows add, remove, rename and delete within 2 s", async () => {
    const api = await client();
    const a = await newGroup(api, "FC Barcelona fans");
    const b = await newGroup(api, "R&D");
    await api.put("/v1/users/alice", {});
    expect(await claimOf(api, "alice")).toEqual({ groups: [] });

    await api.post(`/v1/groups/${a}/members`, { user_ids: ["alice"] });
    await api.post(`/v1/groups/${b}/members`, { user_ids: ["alice"] });
    const afterAdd = await claimBecomes(api, "alice", { groups: ["FC Barcelona fans", "R&D"] });

    await api.del(`/v1/groups/${a}/members`, { user_ids: ["alice"] });
    await claimBecomes(api, "alice", { groups: ["R&D"] });

    await api.patch(`/v1/groups/${b}`, { name: "Research" });
    await claimBecomes(api, "alice", { groups: ["Research"] });

    await api.del(`/v1/groups/${b}`);
    await claimBecomes(api, "alice", { groups: [] });
    console.log(`claim reflected an add after ${afterAdd} ms`);
  });

  it("is rebuilt from D1 after the KV entry is deleted", async () => {
    const api = await client();
    const g = await newGroup(api, "Keepers");
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["bob"] });
    await claimBecomes(api, "bob", { groups: ["Keepers"] });
    await env.CLAIMS.delete(`claims:${api.tenant}:bob`);
    expect(await env.CLAIMS.get(`claims:${api.tenant}:bob`)).toBeNull();
    expect(await claimOf(api, "bob")).toEqual({ groups: ["Keepers"] });
    // and written back to KV by the user's claims writer, which gathers a burst for 50 ms first
    await claimsWritten(api.tenant);
    expect(await env.CLAIMS.get(`claims:${api.tenant}:bob`, "json")).toMatchObject({ values: ["Keepers"], count: 1 });
  });

  it("drops a deleted user's claim, also when the delete's request is cut off after its commit", async () => {
    const api = await client(undefined, { scope: "admin" });
    const g = await newGroup(api, "Alumni");
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["carl", "dina"] });
    await claimsSettled(api, [g]);
    expect(await env.CLAIMS.get(`claims:${api.tenant}:carl`, "json")).toMatchObject({ values: ["Alumni"] });

    expect((await api.del("/v1/users/carl")).status).toBe(204);
    await claimsWritten(api.tenant);
    expect(await env.CLAIMS.get(`claims:${api.tenant}:carl`)).toBeNull();
    expectError(await api.get("/v1/users/carl/claims"), 404, "not_found");

    // The delete tells the writer before its batch: a delete that does not commit (a stale If-Match) still left word.
    expectError(
      await call("DELETE", "/v1/users/dina", { token: api.token, headers: { "if-match": 'W/"99"' } }),
      412,
      "precondition_failed",
    );
    expect(await pendingClaimWrites(env, api.tenant)).toBe(1);
    // What a delete cut off after its D1 batch leaves: that word, the rows gone, no forgetClaim.
    await journalClaim(env, api.tenant, "dina");
    const db = await shardOf(api.tenant);
    await db.batch([
      db.prepare("DELETE FROM memberships WHERE tenant_id = ? AND user_id = 'dina'").bind(api.tenant),
      db.prepare("DELETE FROM users WHERE tenant_id = ? AND id = 'dina'").bind(api.tenant),
    ]);
    expect(await claimOf(api, "dina")).toEqual({ groups: ["Alumni"] }); // the stale claim, for now
    const took = await eventually(
      async () => (await env.CLAIMS.get(`claims:${api.tenant}:dina`)) === null,
      CLAIM_JOURNAL_DELAY_MS + 5_000,
      250,
    );
    expect(took).toBeGreaterThanOrEqual(CLAIM_JOURNAL_DELAY_MS - 1_000);
    expectError(await api.get("/v1/users/dina/claims"), 404, "not_found");
  });

  it("turns into an OIDC distributed-claims pointer past the overage limit", async () => {
    const admin = await client(undefined, { scope: "admin" });
    expect((await admin.patch("/v1/config", { claim: { overageLimit: 3 } })).status).toBe(200);
    const groups = [];
    for (let i = 0; i < 4; i++) groups.push(await newGroup(admin, `g${i}`));
    for (const g of groups.slice(0, 3)) await admin.post(`/v1/groups/${g}/members`, { user_ids: ["carol"] });
    await claimBecomes(admin, "carol", { groups: ["g0", "g1", "g2"] });
    await admin.post(`/v1/groups/${groups[3]}/members`, { user_ids: ["carol"] });
    await claimBecomes(admin, "carol", {
      _claim_names: { groups: "src1" },
      _claim_sources: { src1: { endpoint: "http://groups.test/v1/users/carol/groups" } },
    });
  });

  it("uses the configured claim name and ids instead of names", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const g = await newGroup(admin, "Named");
    await admin.post(`/v1/groups/${g}/members`, { user_ids: ["dan"] });
    await claimBecomes(admin, "dan", { groups: ["Named"] });
    const res = await admin.patch("/v1/config", { claim: { name: "app_groups", values: "ids" } });
    expect(res.json.result.claim).toEqual({ name: "app_groups", values: "ids", overageLimit: 200, includeInherited: true });
    expect(await claimOf(admin, "dan")).toEqual({ app_groups: [g] });
  });

  it("needs claims:read or groups:read; config changes need admin", async () => {
    const api = await client(undefined, { scope: "claims:read" });
    await (await shardOf(api.tenant))
      .prepare("INSERT INTO users (tenant_id, id, created_at, updated_at) VALUES (?, 'erin', 0, 0)")
      .bind(api.tenant)
      .run();
    expect((await api.get("/v1/users/erin/claims")).json.result).toEqual({ groups: [] });
    expectError(await api.get("/v1/groups"), 403, "forbidden");
    const writer = await client(api.tenant, { scope: "groups:write groups:read" });
    expectError(await writer.patch("/v1/config", { claim: { name: "x" } }), 403, "forbidden");
    const admin = await client(api.tenant, { scope: "admin" });
    expectError(await admin.patch("/v1/config", { claim: { name: "bad name!" } }), 400, "invalid");
    // A claim the token's issuer or this service owns is never the groups claim's name.
    for (const name of ["sub", "exp", "iss", "aud", "nonce", "tenant_id", "roles", "scope", "SUB"]) {
      const refused = await admin.patch("/v1/config", { claim: { name } });
      expectError(refused, 400, "invalid");
      expect(refused.json.error.details[0].field, name).toBe("claim.name");
      expect(refused.json.error.details[0].message).toContain("must not be a claim the token's issuer or this service owns");
    }
    expectError(await admin.patch("/v1/config", { maxMembersPerGroup: 0 }), 400, "invalid");
    expect((await admin.get("/v1/config")).json.result.claim.name).toBe("groups");
  });
});

describe("Okta token inline hook", () => {
  const secret = "hook-secret-for-tests";
  const hookBody = (id: string, login: string) => ({
    eventType: "com.okta.oauth2.tokens.transform",
    eventTypeVersion: "1.0",
    data: {
      context: { user: { id, profile: { login, firstName: "Fay", lastName: "Doe" } }, protocol: { type: "OAUTH2.0" } },
      identity: { claims: { sub: id } },
      access: { claims: { sub: id }, scopes: {} },
    },
  });

  it("answers with identity and access patch commands adding the configured claim", async () => {
    const admin = await client("hooked", { scope: "admin" });
    await admin.patch("/v1/config", { claim: { name: "app_groups", values: "names" } });
    await admin.put("/v1/users/fay", { email: "fay@example.com" });
    const g = await newGroup(admin, `Hooked ${Date.now()}`);
    await admin.post(`/v1/groups/${g}/members`, { user_ids: ["fay"] });
    await eventually(async () => JSON.stringify(await claimOf(admin, "fay")).includes("Hooked"));

    // Okta's own user id is unknown here, so the login email finds the user
    const started = Date.now();
    const res = await call("POST", "/hooks/okta/token", {
      body: hookBody("00uOkta123", "Fay@Example.com"),
      headers: { authorization: secret },
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.status).toBe(200);
    const name = (await admin.get(`/v1/groups/${g}`)).json.result.name;
    const ops = [{ op: "add", path: "/claims/app_groups", value: [name] }];
    expect(res.json).toEqual({
      commands: [
        { type: "com.okta.identity.patch", value: ops },
        { type: "com.okta.access.patch", value: ops },
      ],
    });
  });

  it("with no HOOK_SECRETS configured, refuses every hook call (401, never open)", async () => {
    const { buildApp } = await import("../src/app");
    const res = await buildApp().request(
      "/hooks/okta/token",
      {
        method: "POST",
        headers: { authorization: secret, "content-type": "application/json" },
        body: JSON.stringify(hookBody("x", "x@example.com")),
      },
      { ...env, HOOK_SECRETS: undefined },
    );
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { errorSummary: string } }).error.errorSummary).toContain("not configured");
  });

  it("adds nothing for a user it does not know", async () => {
    const res = await call("POST", "/hooks/okta/token", {
      body: hookBody("00uNobody", "nobody@example.com"),
      headers: { authorization: secret },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ commands: [] });
  });

  it("refuses a wrong or missing secret and a malformed request with Okta's error shape", async () => {
    const wrong = await call("POST", "/hooks/okta/token", {
      body: hookBody("x", "x@example.com"),
      headers: { authorization: "hook-secret-for-tests-not" },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.errorSummary).toContain("does not match");
    const missing = await call("POST", "/hooks/okta/token", { body: hookBody("x", "x@example.com") });
    expect(missing.status).toBe(401);
    expect(missing.json.error.errorSummary).toContain("missing");
    const bad = await call("POST", "/hooks/okta/token", { body: { data: {} }, headers: { authorization: secret } });
    expect(bad.status).toBe(400);
    expect(typeof bad.json.error.errorSummary).toBe("string");
  });
});

describe("claims status", () => {
  it("reports the queued claim refreshes of a group until they are done (admin only)", async () => {
    const admin = await client(freshTenant("cs"), { scope: "admin" });
    const g = (await admin.post("/v1/groups", { name: "Queue" })).json.result.group_id;
    await admin.post(`/v1/groups/${g}/members`, { user_ids: Array.from({ length: 300 }, (_, i) => `q${i}`) });
    await eventually(async () => (await admin.get(`/v1/groups/${g}/claims-status`)).json.result.pending_refreshes === 0, 10_000);
    expect((await admin.get("/v1/users/q299/claims")).json.result.groups).toEqual(["Queue"]);
    const writer = await client(admin.tenant);
    expect((await writer.get(`/v1/groups/${g}/claims-status`)).status).toBe(403);
    expect((await admin.get("/v1/groups/nope/claims-status")).status).toBe(404);
  });
});

describe("claim keys never collide across tenants", () => {
  it("tenant 'T:x' reading its user 'u' never gets tenant 'T''s user 'x:u' claim (ids may hold ':')", async () => {
    const victim = await client(freshTenant("colon"), { scope: "admin" });
    const attacker = await client(`${victim.tenant}:x`, { scope: "admin" });
    const gid = (await victim.post("/v1/groups", { name: "Victim secret" })).json.result.group_id;
    expect((await victim.post(`/v1/groups/${gid}/members`, { user_ids: ["x:u"] })).status).toBe(200);
    await claimsSettled(victim, [gid]);
    expect((await victim.get(`/v1/users/${encodeURIComponent("x:u")}/claims`)).json.result).toEqual({ groups: ["Victim secret"] });

    const read = await attacker.get("/v1/users/u/claims");
    expect(read.status).toBe(404);
    expect(read.text).not.toContain("Victim secret");
    // The attacker's own user 'u' gets its own claim, and the victim's stays as it was.
    await attacker.put("/v1/users/u", { name: "u" });
    expect((await attacker.get("/v1/users/u/claims")).json.result).toEqual({ groups: [] });
    await claimsWritten(attacker.tenant);
    expect((await victim.get(`/v1/users/${encodeURIComponent("x:u")}/claims`)).json.result).toEqual({ groups: ["Victim secret"] });
  });
});
