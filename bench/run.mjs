// npm run bench [-- --quick] — every hot path against wrangler dev on 127.0.0.1, load
// driven by autocannon from this process, each figure beside the /healthz floor
// measured in the same run. The full run writes bench/results.json and BENCHMARKS.md.

import { writeFileSync } from "node:fs";
import { cpus, type as osType, release, totalmem } from "node:os";
import autocannon from "autocannon";
import { claimsSettled, floorMs, startServer } from "../scripts/local-server.mjs";
import { hotGroupsTable, measureHotGroups } from "./hot-groups.mjs";
import { measurePeaks, peaksTable } from "./invocation-peaks.mjs";
import { measureRules, rulesTable } from "./rules.mjs";
import { groupsSql, hierarchySql, membershipsSql, recountSql, usersSql } from "./seeds.mjs";
import { measureShards, shardsTable } from "./shards.mjs";
import { measureWebhooks, webhooksTable } from "./webhooks.mjs";

const QUICK = process.argv.includes("--quick");
const DURATION = QUICK ? 2 : 6;
const SCALES = QUICK ? [1e3, 1e4] : [1e3, 1e4, 1e5, 1e6];
const COLD_USERS = QUICK ? 2_000 : 10_000;

// Data, all set-based. Tenant "bench": a user in 20 groups (claims), a user in 1,000
// groups, cold users for KV-miss claims, SCIM users. Tenant "hier": the hierarchy.
// Tenants "scale-N": N memberships (N/10 users in 10 of 1,000 groups each).
const seed = [
  groupsSql("bench", "h", 1000),
  usersSql("bench", "heavy", 1),
  membershipsSql("bench", "heavy", 1, "h", 1000, "k"),
  usersSql("bench", "cold", COLD_USERS),
  membershipsSql("bench", "cold", COLD_USERS, "h", 5, "(u * 7 + k * 101) % 1000"),
  usersSql("bench", "scim", 10_000, { userName: true }),
  groupsSql("feed", "f", 1),
  recountSql("bench"),
  hierarchySql("hier", QUICK ? 10_000 : 100_000),
  ...SCALES.flatMap((n) => [
    groupsSql(`scale-${n}`, "s", 1000),
    usersSql(`scale-${n}`, "u", n / 10),
    membershipsSql(`scale-${n}`, "u", n / 10, "s", 10, "(u * 7 + k * 101) % 1000"),
    recountSql(`scale-${n}`),
  ]),
].join("\n");

const started = Date.now();
console.error(`seeding and starting (${QUICK ? "quick" : "full"} run)...`);
const server = await startServer({ seedSql: seed });
const auth = async (tenant, scope = "admin") => ({
  authorization: `Bearer ${await server.token(tenant, scope)}`,
  "content-type": "application/json",
});

function run(opts) {
  return new Promise((resolve, reject) => {
    const bounds = opts.amount ? {} : { duration: DURATION };
    autocannon({ url: server.base, connections: 10, ...bounds, ...opts }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}
const claimsSettle = (headers, groupIds) => claimsSettled(server.base, headers, groupIds, 120_000);

const summary = (r) => ({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx });

/** A case timed by autocannon: requests/s and latency percentiles. */
async function load(name, opts) {
  const r = summary(await run(opts));
  if (r.errors > 0) console.error(`  ${name}: ${r.errors} errors or non-2xx answers`);
  return { name, kind: "load", ...r };
}

/**
 * A case whose unit is one heavy call: sequential calls, their median and worst latency.
 * settle(i) waits until the claims refresh the call queued is done (locally it shares
 * the one workerd thread, and would otherwise be billed to the next call).
 */
async function calls(name, n, make, settle) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const { path, init } = await make(i);
    const t = performance.now();
    const res = await fetch(`${server.base}${path}`, init);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${name}: ${res.status}`);
    times.push(performance.now() - t);
    if (settle) await settle(i);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    name,
    kind: "calls",
    calls: n,
    p50: sorted[Math.floor(n / 2)],
    p99: sorted[n - 1],
    rps: 1000 / (times.reduce((a, b) => a + b, 0) / n),
  };
}

const results = [];
try {
  const bench = await auth("bench");
  const floor = await load("floor: GET /healthz", { requests: [{ method: "GET", path: "/healthz" }] });
  results.push(floor);
  // The floor for sequential cases: one request at a time, no queueing.
  const one = await floorMs(server.base);
  results.push({ name: "floor: GET /healthz, one at a time", kind: "calls", calls: 200, p50: one, p99: undefined, rps: 1000 / one });

  // Claims: warm the claim of a user in 1,000 groups... and of one in 5 groups (the usual login case).
  await fetch(`${server.base}/v1/users/cold0/claims`, { headers: bench });
  // The same call with an API key (goal: ≥ 0.9× the cached JWT's req/s): once the isolate knows the key, no D1 query.
  // Measured interleaved, JWT, key, JWT, key, so drift over the run favours neither.
  const made = await (
    await fetch(`${server.base}/v1/api-keys`, {
      method: "POST",
      headers: bench,
      body: JSON.stringify({ name: "bench", scopes: ["claims:read"] }),
    })
  ).json();
  const withKey = { authorization: `Bearer ${made.result.secret}` };
  await fetch(`${server.base}/v1/users/cold0/claims`, { headers: withKey });
  const claimWith = (headers) => ({ requests: [{ method: "GET", path: "/v1/users/cold0/claims", headers }], duration: DURATION / 2 });
  const halves = [];
  for (let i = 0; i < 2; i++) halves.push(await load("jwt", claimWith(bench)), await load("key", claimWith(withKey)));
  const merged = (name, runs) => ({
    name,
    kind: "load",
    rps: runs.reduce((n, r) => n + r.rps, 0) / runs.length,
    p50: runs.reduce((n, r) => n + r.p50, 0) / runs.length,
    p99: Math.max(...runs.map((r) => r.p99)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  });
  const jwtClaim = merged(
    "groups claim, KV hit",
    halves.filter((r) => r.name === "jwt"),
  );
  const keyClaim = merged(
    "groups claim with an API key, KV hit",
    halves.filter((r) => r.name === "key"),
  );
  results.push(jwtClaim);
  results.push({ ...keyClaim, vsJwt: keyClaim.rps / jwtClaim.rps });
  let cold = 1;
  results.push(
    await load(`groups claim, KV miss (rebuilt from D1; ${COLD_USERS - 1} users once each)`, {
      amount: COLD_USERS - 1,
      requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: `/v1/users/cold${cold++}/claims`, headers: bench }) }],
    }),
  );
  results.push(
    await load("a user's groups (user in 1,000 groups, page of 200)", {
      requests: [{ method: "GET", path: "/v1/users/heavy0/groups?limit=200", headers: bench }],
    }),
  );
  // A client's retry of a write whose answer it lost: the kept answer, nothing applied (goal: ≥ 0.5× the floor).
  const replayed = { ...bench, "idempotency-key": "bench-replay" };
  const once = await fetch(`${server.base}/v1/groups`, { method: "POST", headers: replayed, body: JSON.stringify({ name: "replayed" }) });
  if (once.status !== 201) throw new Error(`idempotent create: ${once.status}`);
  results.push(
    await load("an idempotent retry (Idempotency-Key replay of a group creation)", {
      requests: [{ method: "POST", path: "/v1/groups", headers: replayed, body: JSON.stringify({ name: "replayed" }) }],
    }),
  );
  results.push(
    await load("a page of a group's members (50)", {
      requests: [{ method: "GET", path: "/v1/groups/h1/members?limit=50", headers: bench }],
    }),
  );

  const g = await (
    await fetch(`${server.base}/v1/groups`, { method: "POST", headers: bench, body: JSON.stringify({ name: "bulk target" }) })
  ).json();
  const gid = g.result.group_id;
  const ids = (i) => Array.from({ length: 1000 }, (_, k) => `bulk-${i}-${k}`);
  const n = QUICK ? 3 : 10;
  results.push(
    await calls(
      "add 1,000 members in one call",
      n,
      (i) => ({ path: `/v1/groups/${gid}/members`, init: { method: "POST", headers: bench, body: JSON.stringify({ user_ids: ids(i) }) } }),
      () => claimsSettle(bench, [gid]),
    ),
  );
  results.push(
    await calls(
      "remove 1,000 members in one call",
      n,
      (i) => ({
        path: `/v1/groups/${gid}/members`,
        init: { method: "DELETE", headers: bench, body: JSON.stringify({ user_ids: ids(i) }) },
      }),
      () => claimsSettle(bench, [gid]),
    ),
  );

  const events = (i) =>
    Array.from({ length: 1000 }, (_, k) => ({
      user_id: `ev-${i}-${k}`,
      group_id: `acct-${k % 20}`,
      timestamp: new Date().toISOString(),
      traits: { group_type: "Account", seats: k },
      message_id: `m-${i}-${k}`,
    }));
  const tracking = await auth("bench", "group_api");
  results.push(
    await calls(
      "1,000-event group-call batch (20 groups)",
      n,
      (i) => ({ path: "/api/group", init: { method: "POST", headers: tracking, body: JSON.stringify(events(i)) } }),
      () =>
        claimsSettle(
          bench,
          Array.from({ length: 20 }, (_, k) => `acct-${k}`),
        ),
    ),
  );

  const scim = await auth("bench", "scim");
  results.push(
    await load("SCIM filtered list (userName eq, 10,000 users)", {
      requests: [{ method: "GET", path: `/scim/v2/Users?filter=${encodeURIComponent('userName eq "scim4321"')}`, headers: scim }],
    }),
  );

  const hier = await auth("hier");
  results.push(
    await load("hierarchy: a mid-level group's user count", { requests: [{ method: "GET", path: "/v1/groups/g26", headers: hier }] }),
  );
  const users = QUICK ? "10,000" : "100,000";
  results.push(
    await calls(`hierarchy: the root's user count, remembered (1,000 groups, ${users} users)`, QUICK ? 5 : 20, () => ({
      path: "/v1/groups/g0",
      init: { headers: hier },
    })),
  );
  // A change under the root forgets its count; the next read walks the whole hierarchy.
  results.push(
    await calls(`hierarchy: the root's user count right after a change under it`, QUICK ? 3 : 10, async (i) => {
      await fetch(`${server.base}/v1/groups/g999/members`, {
        method: "POST",
        headers: hier,
        body: JSON.stringify({ user_ids: [`late-${i}`] }),
      });
      await claimsSettle(hier, ["g999"]);
      return { path: "/v1/groups/g0", init: { headers: hier } };
    }),
  );

  let seq = 0;
  results.push(
    await load("member adds, 10 at once on one group (serialised by its DO)", {
      requests: [
        {
          method: "POST",
          setupRequest: (req) => ({
            ...req,
            path: `/v1/groups/${gid}/members`,
            headers: bench,
            body: JSON.stringify({ user_ids: [`c-${seq++}`] }),
          }),
        },
      ],
    }),
  );
  results.push(
    await load("member adds, 10 at once over 50 groups (parallel DOs)", {
      requests: [
        {
          method: "POST",
          setupRequest: (req) => ({
            ...req,
            path: `/v1/groups/h${seq % 50}/members`,
            headers: bench,
            body: JSON.stringify({ user_ids: [`p-${seq++}`] }),
          }),
        },
      ],
    }),
  );

  // The change stream, twice. Its oldest page in the bench tenant, as the cases above left it: 1,000-member adds and
  // removes among its events, each naming 1,000 users. And a page of the most common events, single-member adds
  // (each a user.created and a group.members.added), in a tenant of their own whose stream holds just them.
  // Headers of its own: autocannon has written a content-length into the shared ones.
  const admin = { authorization: bench.authorization, "content-type": "application/json" };
  const feed = { authorization: `Bearer ${await server.token("feed")}`, "content-type": "application/json" };
  // Single-member adds, 10 at once, until the tenant's stream holds 1,000 events (a quick run's bench tenant may hold fewer).
  // A refused add or read stops the run: the loop re-reads the stream, and would otherwise wait forever.
  const answered = async (what, res) => {
    if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
    return res;
  };
  const eventsHeld = async (headers) =>
    (await (await answered("reading the change stream", await fetch(`${server.base}/v1/events?limit=1000`, { headers }))).json()).result
      .length;
  async function topUp(headers, groupId) {
    for (let held = await eventsHeld(headers), k = 0; held < 1000; held = await eventsHeld(headers)) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await fetch(`${server.base}/v1/groups/${groupId}/members`, {
            method: "POST",
            headers,
            body: JSON.stringify({ user_ids: [`ev-${k++}`] }),
          });
          await (await answered(`topping up the change stream of group ${groupId}`, res)).arrayBuffer();
        }),
      );
    }
  }
  await topUp(admin, "h1");
  await topUp(feed, "f0");
  for (const [what, headers] of [
    ["as the run left the bench tenant's stream (1,000-member adds among them)", admin],
    ["of single-member adds", feed],
  ]) {
    const page = await (await fetch(`${server.base}/v1/events?limit=1000`, { headers })).text();
    if (JSON.parse(page).result.length !== 1000) throw new Error(`the change stream ${what} does not hold 1,000 events`);
    results.push(
      await load(`change stream: a page of 1,000 events ${what}, ${Math.round(page.length / 1000)} KB (GET /v1/events?limit=1000)`, {
        requests: [{ method: "GET", path: "/v1/events?limit=1000", headers }],
      }),
    );
  }

  for (const size of SCALES) {
    const h = await auth(`scale-${size}`);
    if (size === 1e6) {
      // 100,000 users: a rule's preview reads every profile of the tenant (substr matches no index).
      results.push(
        await load("rule preview over 100,000 users (POST /v1/rules/preview, user_id sw)", {
          requests: [
            { method: "POST", path: "/v1/rules/preview", headers: { ...h }, body: JSON.stringify({ expression: 'user_id sw "u1234"' }) },
          ],
        }),
      );
    }
    results.push({
      ...(await load(`scale ${size.toExponential(0)}: a user's groups`, {
        requests: [{ method: "GET", path: "/v1/users/u3/groups", headers: h }],
      })),
      scale: size,
      case: "user-groups",
    });
    results.push({
      ...(await load(`scale ${size.toExponential(0)}: a page of members`, {
        requests: [{ method: "GET", path: "/v1/groups/s7/members?limit=50", headers: h }],
      })),
      scale: size,
      case: "members-page",
    });
  }
} finally {
  await server.stop();
}

// Load cases compare with the floor under the same load; sequential calls with the sequential floor.
const floors = { load: results[0], calls: results[1] };
const rows = results.map((r) => ({
  ...r,
  rpsRatio: r.rps / floors[r.kind].rps,
  p50Ratio: r.p50 / floors[r.kind].p50,
}));
const fmt = (x, d = 1) => (x === undefined ? "" : x.toFixed(d));
const table = [
  "| case | how | req/s | p50 ms | p99 ms | req/s vs floor | p50 vs floor |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.kind === "load" ? "autocannon, 10 conn." : `${r.calls} sequential calls`} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.rpsRatio, 2)}× | ${fmt(r.p50Ratio)}× |`,
  ),
].join("\n");
console.log(table);
const keyRow = rows.find((r) => r.vsJwt !== undefined);
if (keyRow)
  console.log(`\ngroups claim with an API key: ${fmt(keyRow.vsJwt, 2)}× the req/s of the same call with a cached JWT (goal ≥ 0.90×)`);
console.error("\nsubrequests per invocation on the heaviest paths (a server behind the limits layer)...");
const peaks = peaksTable(await measurePeaks());
console.log(`\n${peaks}`);
console.error("\none hot group, without and with a 10 ms delay on every D1 call...");
const hot = hotGroupsTable(await measureHotGroups());
console.log(`\n${hot}`);
console.error("\nwhat events cost, and webhook delivery...");
const hooks = webhooksTable(await measureWebhooks());
console.log(`\n${hooks}`);
console.error("\nwhat membership rules cost...");
const rules = rulesTable(await measureRules());
console.log(`\n${rules}`);
console.error("\nwhat shards give and cost...");
const shards = shardsTable(await measureShards());
console.log(`\n${shards}`);
console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s in all`);

if (!QUICK) {
  const machine = `${osType()} ${release()}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}`;
  writeFileSync(
    new URL("./results.json", import.meta.url),
    JSON.stringify({ at: new Date().toISOString(), machine, command: "npm run bench", duration_s: DURATION, results: rows }, null, 2) +
      "\n",
  );
  const doc = new URL("../BENCHMARKS.md", import.meta.url);
  const { readFileSync } = await import("node:fs");
  const current = readFileSync(doc, "utf8");
  const start = current.indexOf("<!-- results -->");
  const end = current.indexOf("<!-- /results -->");
  const block = `<!-- results -->\nMeasured ${new Date().toISOString().slice(0, 16)}Z on ${machine} with \`npm run bench\`.\n\n${table}\n\nSubrequests per invocation (Cloudflare allows 1,000), counted by the limits layer:\n\n${peaks}\n\nOne hot group (\`npm run bench:hot\`), without and with 10 ms added to every D1 call:\n\n${hot}\n\nThe change stream (\`npm run bench:webhooks\`):\n\n${hooks}\n\nMembership rules (\`npm run bench:rules\`):\n\n${rules}\n\nShards (\`npm run bench:shards\`):\n\n${shards}\n<!-- /results -->`;
  writeFileSync(
    doc,
    start >= 0 && end > start
      ? current.slice(0, start) + block + current.slice(end + "<!-- /results -->".length)
      : `${current}\n${block}\n`,
  );
}
