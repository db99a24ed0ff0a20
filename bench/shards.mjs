// npm run bench:shards — what shards give and cost, each figure beside a baseline of the same run.
// 1. Write throughput: 1,000-member adds from 12 tenants at once, the local server run with one
//    shard and then with three (each shard its own SQLite file). Goal: three ≥ 2× one.
// 2. The directory on the read path: the groups claim (a KV hit, its tenant's shard looked up
//    through the isolate's cache of the directory) against /healthz under the same load. Goal: ≥ 0.75×.
// 3. Moving a 100,000-membership tenant to another shard online (POST /vendor/tenants/{id}/move
//    until it answers 200): its time and rows a second, against the same rows seeded in one statement.

import { pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { sign } from "hono/jwt";
import { claimsSettled, startServer } from "../scripts/local-server.mjs";
import { groupsSql, membershipsSql, recountSql, usersSql } from "./seeds.mjs";

const QUICK = process.argv.includes("--quick");
const TENANTS = 12;
const CALLS = QUICK ? 2 : 5;
const MOVE_MEMBERSHIPS = QUICK ? 10_000 : 100_000;
const DURATION = QUICK ? 2 : 5;
const VENDOR = {
  VENDOR_DEV_SECRET: "bench-vendor-secret-0123456789abcdef",
  VENDOR_ISSUER: "https://vendor.bench/",
  VENDOR_AUDIENCE: "edge-groups-vendor",
};

const drained = async (r) => {
  await r.arrayBuffer();
  return r;
};

let servers = 0;
async function withServer(vars, seedSql, fn) {
  process.env.EDGE_GROUPS_VARS = JSON.stringify({ ...VENDOR, ...vars });
  // A port of its own: a server just stopped may still hold the last one for a moment.
  servers += 1;
  const server = await startServer({ seedSql, port: 8950 + servers });
  try {
    return await fn(server);
  } finally {
    await server.stop();
    delete process.env.EDGE_GROUPS_VARS;
  }
}

/** Memberships a second: TENANTS tenants each adding CALLS × 1,000 members to a group of their own, all at once. */
async function writeRate(shards) {
  return withServer({ SHARDS: shards }, "", async (server) => {
    const tenants = [];
    // Sequential first requests: each tenant is placed while the others' placements count.
    for (let t = 0; t < TENANTS; t++) {
      const auth = { authorization: `Bearer ${await server.token(`w${t}`)}`, "content-type": "application/json" };
      const made = await fetch(`${server.base}/v1/groups`, { method: "POST", headers: auth, body: JSON.stringify({ name: "all" }) });
      if (made.status !== 201) throw new Error(`group create: ${made.status}`);
      tenants.push({ auth, group: (await made.json()).result.group_id });
    }
    const start = performance.now();
    const answers = await Promise.all(
      tenants.flatMap(({ auth, group }, t) =>
        Array.from({ length: CALLS }, (_, c) =>
          fetch(`${server.base}/v1/groups/${group}/members`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ user_ids: Array.from({ length: 1_000 }, (_, i) => `u${t}-${c}-${i}`) }),
          }).then(drained),
        ),
      ),
    );
    const ms = performance.now() - start;
    const failed = answers.filter((a) => a.status !== 200);
    if (failed.length) throw new Error(`${failed.length} adds failed, e.g. ${failed[0].status}`);
    for (const { auth, group } of tenants) await claimsSettled(server.base, auth, [group], 300_000);
    return (TENANTS * CALLS * 1_000) / (ms / 1000);
  });
}

const load = (base, opts) =>
  new Promise((resolve, reject) =>
    autocannon({ url: base, connections: 10, duration: DURATION, ...opts }, (err, r) => (err ? reject(err) : resolve(r.requests.average))),
  );

/** The claim read against the floor, in turn, on a three-shard server whose tenants are spread. */
async function claimRead() {
  const seed = [
    groupsSql("c0", "g", 20),
    usersSql("c0", "reader", 1),
    `INSERT INTO memberships (tenant_id, group_id, user_id, added_at) SELECT 'c0', id, 'reader0', 0 FROM groups WHERE tenant_id = 'c0';`,
    recountSql("c0"),
  ].join("\n");
  return withServer({}, seed, async (server) => {
    const auth = { authorization: `Bearer ${await server.token("c0")}` };
    const first = await fetch(`${server.base}/v1/users/reader0/claims`, { headers: auth }).then((r) => r.json());
    if (first.result?.groups?.length !== 20) throw new Error(`the claim is not as seeded: ${JSON.stringify(first).slice(0, 300)}`);
    const floor = [];
    const claim = [];
    for (let i = 0; i < 2; i++) {
      floor.push(await load(`${server.base}/healthz`));
      claim.push(await load(`${server.base}/v1/users/reader0/claims`, { headers: auth }));
    }
    const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    return { floor: mean(floor), claim: mean(claim) };
  });
}

/** A tenant of MOVE_MEMBERSHIPS memberships (1,000 users × 100 groups each... as the count asks) moved from DB to DB_2. */
async function moveTime() {
  const users = MOVE_MEMBERSHIPS / 100;
  const seed = [
    groupsSql("big", "g", 100),
    usersSql("big", "u", users),
    membershipsSql("big", "u", users, "g", 100, "k"),
    recountSql("big"),
  ].join("\n");
  const seedStart = performance.now();
  return withServer({}, seed, async (server) => {
    const seeded = performance.now() - seedStart;
    const auth = { authorization: `Bearer ${await server.token("big")}` };
    const before = await (await fetch(`${server.base}/v1/groups/g7?`, { headers: auth })).json();
    const vendor = `Bearer ${await sign({ iss: VENDOR.VENDOR_ISSUER, aud: VENDOR.VENDOR_AUDIENCE, sub: "bench", scope: "admin", exp: Math.floor(Date.now() / 1000) + 3600 }, VENDOR.VENDOR_DEV_SECRET, "HS256")}`;
    const start = performance.now();
    let calls = 0;
    let last;
    for (;;) {
      calls++;
      const r = await fetch(`${server.base}/vendor/tenants/big/move`, {
        method: "POST",
        headers: { authorization: vendor, "content-type": "application/json" },
        body: JSON.stringify({ to: "DB_2" }),
      });
      last = await r.json();
      if (r.status === 200) break;
      if (r.status !== 202) throw new Error(`move: ${r.status} ${JSON.stringify(last)}`);
    }
    const ms = performance.now() - start;
    const after = await (await fetch(`${server.base}/v1/groups/g7`, { headers: auth })).json();
    if (after.result.member_count !== before.result.member_count || after.result.member_count !== users)
      throw new Error(`the moved tenant's group has ${after.result.member_count} members, not ${users}`);
    return { ms, calls, rows: last.copied_rows, seededMs: seeded };
  });
}

export async function measureShards() {
  const one = await writeRate("DB");
  console.error(`1 shard: ${Math.round(one)} memberships/s`);
  const three = await writeRate("DB DB_2 DB_3");
  console.error(`3 shards: ${Math.round(three)} memberships/s`);
  const claim = await claimRead();
  const move = await moveTime();
  return { one, three, claim, move };
}

const f = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

export function shardsTable({ one, three, claim, move }) {
  return [
    "| case | measured | against | ratio | goal |",
    "| --- | --- | --- | --- | --- |",
    `| 1,000-member adds, ${TENANTS} tenants at once, 3 shards vs 1 | ${f(three)} memberships/s | ${f(one)} memberships/s (1 shard) | ${f(three / one, 2)}× | ≥ 2× |`,
    `| groups claim (KV hit) with the directory lookup, vs /healthz | ${f(claim.claim)} req/s | ${f(claim.floor)} req/s | ${f(claim.claim / claim.floor, 2)}× | ≥ 0.75× |`,
    `| move of a ${f(MOVE_MEMBERSHIPS)}-membership tenant (${f(move.rows)} rows, ${move.calls} calls) | ${f(move.ms / 1000, 1)} s (${f(move.rows / (move.ms / 1000))} rows/s) | seeding the same data in one statement, and starting the server: ${f(move.seededMs / 1000, 1)} s | ${f(move.ms / move.seededMs, 2)}× | none |`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(shardsTable(await measureShards()));
}
