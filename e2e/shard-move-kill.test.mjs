// kill -9 of the local server's whole process group in the middle of a tenant's move to another
// shard, then a restart on the same state: the tenant reads whole (from the shard the directory
// names), and calling the move again takes it to its end with every membership there.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sign } from "hono/jwt";
import { groupsSql, membershipsSql, recountSql, usersSql } from "../bench/seeds.mjs";
import { startServer } from "../scripts/local-server.mjs";

const VENDOR = {
  VENDOR_DEV_SECRET: "e2e-vendor-secret-0123456789abcdef0123",
  VENDOR_ISSUER: "https://vendor.e2e/",
  VENDOR_AUDIENCE: "edge-groups-vendor",
};
const USERS = 300;
const GROUPS = 100;
const tenants = ["moving-early", "moving-switched"];

let server;
before(async () => {
  process.env.EDGE_GROUPS_VARS = JSON.stringify(VENDOR);
  // Each tenant: 100 groups of 300 members (30,000 memberships), on the first shard.
  const seed = tenants.flatMap((t) => [
    groupsSql(t, "g", GROUPS),
    usersSql(t, "u", USERS),
    membershipsSql(t, "u", USERS, "g", GROUPS, "k"),
    recountSql(t),
  ]);
  server = await startServer({ seedSql: seed.join("\n") });
});
after(async () => {
  await server?.stop();
  delete process.env.EDGE_GROUPS_VARS;
});

const vendorAuth = async () => ({
  authorization: `Bearer ${await sign({ iss: VENDOR.VENDOR_ISSUER, aud: VENDOR.VENDOR_AUDIENCE, sub: "e2e", scope: "admin", exp: Math.floor(Date.now() / 1000) + 3600 }, VENDOR.VENDOR_DEV_SECRET, "HS256")}`,
  "content-type": "application/json",
});

async function placement(tenant) {
  return (await fetch(`${server.base}/vendor/tenants/${tenant}/placement`, { headers: await vendorAuth() })).json();
}

/** What a user reads: each group's member count, and one group's members. */
async function whole(tenant) {
  const auth = { authorization: `Bearer ${await server.token(tenant)}` };
  const groups = (await (await fetch(`${server.base}/v1/groups?limit=200`, { headers: auth })).json()).result;
  assert.equal(groups.length, GROUPS);
  assert.equal(
    groups.reduce((n, g) => n + g.member_count, 0),
    USERS * GROUPS,
  );
  const members = (await (await fetch(`${server.base}/v1/groups/g7/members?limit=200`, { headers: auth })).json()).result;
  assert.equal(members.length, 200);
}

const move = async (tenant) =>
  fetch(`${server.base}/vendor/tenants/${tenant}/move`, {
    method: "POST",
    headers: await vendorAuth(),
    body: JSON.stringify({ to: "DB_2" }),
  });

async function finish(tenant) {
  for (let i = 0; i < 50; i++) {
    const r = await move(tenant);
    const body = await r.json();
    if (r.status === 200) return body;
    assert.equal(r.status, 202, JSON.stringify(body));
  }
  throw new Error("the move did not finish");
}

for (const [tenant, when] of [
  [tenants[0], "while it copies"],
  [tenants[1], "after its switch"],
]) {
  it(`keeps a moving tenant whole through a kill -9 ${when}, and the move resumes to its end`, async () => {
    await whole(tenant); // its first request places it: where its seeded rows are
    assert.equal((await placement(tenant)).shard, "DB");
    const running = move(tenant).catch(() => null); // cut off by the kill
    if (when === "while it copies") {
      // A moment in: the move has begun copying (30,000 memberships take seconds here).
      await new Promise((r) => setTimeout(r, 150));
    } else {
      for (;;) {
        const state = (await placement(tenant)).move?.state;
        if (state === "switched" || state === "settled") break;
        assert.notEqual(state, "done", "the move ended before the kill");
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await server.kill();
    await running;
    await server.restart();
    const cut = await placement(tenant);
    // (On a slow machine the kill may even come before the move was recorded: the tenant must be whole all the same.)
    const state = cut.move?.state ?? "not started";
    console.log(`# killed ${when}: state ${state}, ${cut.move?.copied_rows ?? 0} rows copied, the directory names ${cut.shard}`);
    assert.notEqual(state, "done", "the kill came after the move's end");
    if (when === "while it copies") assert.equal(cut.shard, "DB");
    await whole(tenant);
    const done = await finish(tenant);
    assert.equal(done.state, "done");
    assert.equal((await placement(tenant)).shard, "DB_2");
    await whole(tenant);
    // Writes go on after the move.
    const auth = { authorization: `Bearer ${await server.token(tenant)}`, "content-type": "application/json" };
    const added = await fetch(`${server.base}/v1/groups/g7/members`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ user_ids: ["after-move"] }),
    });
    assert.equal(added.status, 200);
  });
}
