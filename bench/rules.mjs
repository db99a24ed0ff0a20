// npm run bench:rules — what membership rules cost, each figure beside a baseline of the same run.
// 1. A profile PATCH in a tenant with 500 rules against the same PATCH in a tenant with none
//    (autocannon, in turn: none, rules, none, rules). Goal: ≤ 3×.
// 2. The groups claim (KV hit) in the 500-rule tenant against /healthz under the same load. Goal: ≥ 0.7×.
// 3. Reconciling a rule that selects every user of a 100,000-user tenant, and dropping it, against
//    the same 100,000 memberships added and removed through the members API, 1,000 per call
//    (each call timed alone: its claims refresh settles, untimed, before the next).

import { pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { claimsSettled, startServer } from "../scripts/local-server.mjs";
import { groupsSql, usersSql } from "./seeds.mjs";

const QUICK = process.argv.includes("--quick");
const DURATION = QUICK ? 2 : 5;
const USERS = QUICK ? 10_000 : 100_000;
const RULES = 500;

// 500 rules, each on a group of its own, none selecting the users the PATCHes write.
const seed = [
  usersSql("ruled", "u", 1_000),
  usersSql("plain", "u", 1_000),
  groupsSql("ruled", "r", RULES),
  `INSERT INTO group_rules (tenant_id, group_id, expression, created_by, created_at, updated_at)
   SELECT 'ruled', id, 'custom_data.level eq ' || substr(id, 2) || ' or email ew "@rule' || substr(id, 2) || '.example"', 'bench', 0, 0
   FROM groups WHERE tenant_id = 'ruled';`,
  usersSql("big", "u", USERS),
  groupsSql("big", "g", 2),
].join("\n");

const run = (base, opts) =>
  new Promise((resolve, reject) =>
    autocannon({ url: base, connections: 10, duration: DURATION, ...opts }, (err, r) => (err ? reject(err) : resolve(r))),
  );

async function rps(base, opts) {
  const r = await run(base, opts);
  if (r.errors + r.non2xx > 0) throw new Error(`${opts.requests[0].path ?? "request"}: ${r.errors + r.non2xx} errors or non-2xx answers`);
  return { rps: r.requests.average, p50: r.latency.p50 };
}

const mean = (runs, key) => runs.reduce((n, r) => n + r[key], 0) / runs.length;

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function call(base, method, path, headers, body) {
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text || "null");
}

export async function measureRules() {
  const server = await startServer({ seedSql: seed });
  try {
    const auth = async (tenant) => ({ authorization: `Bearer ${await server.token(tenant)}`, "content-type": "application/json" });
    const ruled = await auth("ruled");
    const plain = await auth("plain");
    const big = await auth("big");

    // 1. The same profile PATCHes, with and without 500 rules to evaluate.
    let k = 0;
    const patches = (headers) => ({
      requests: [
        {
          method: "PATCH",
          setupRequest: (req) => ({
            ...req,
            path: `/v1/users/u${k++ % 1000}`,
            // A copy each time: autocannon writes the body's content-length into the headers it gets.
            headers: { ...headers },
            // A new level each time: a PATCH that changes nothing writes nothing and evaluates no rule.
            body: JSON.stringify({ custom_data: { level: 10_000 + k } }),
          }),
        },
      ],
    });
    const runs = { plain: [], ruled: [] };
    for (let i = 0; i < 2; i++) {
      runs.plain.push(await rps(server.base, patches(plain)));
      runs.ruled.push(await rps(server.base, patches(ruled)));
    }
    // The rules did their work: a PATCH that matches rule 42 moves the user into its group before it answers.
    await call(server.base, "PATCH", "/v1/users/u1", ruled, { custom_data: { level: 42 } });
    const held = await call(server.base, "GET", "/v1/users/u1/groups", ruled);
    if (held.result.map((g) => g.group_id).join() !== "r42") throw new Error(`u1 is in ${held.result.map((g) => g.group_id)}, not r42`);

    // 2. The claim lookup in the tenant with rules, beside the floor.
    await call(server.base, "GET", "/v1/users/u1/claims", ruled);
    const floor = await rps(server.base, { requests: [{ method: "GET", path: "/healthz" }] });
    const claim = await rps(server.base, { requests: [{ method: "GET", path: "/v1/users/u1/claims", headers: { ...ruled } }] });

    // 3. Reconcile against the members API.
    const everyone = 'user_id sw "u"';
    const reconcile = await timed(() => call(server.base, "PUT", "/v1/groups/g0/rule", big, { expression: everyone }));
    await claimsSettled(server.base, big, ["g0"], 600_000);
    const drop = await timed(() => call(server.base, "DELETE", "/v1/groups/g0/rule", big));
    await claimsSettled(server.base, big, ["g0"], 600_000);
    const chunks = Array.from({ length: USERS / 1000 }, (_, c) => Array.from({ length: 1000 }, (_, i) => `u${c * 1000 + i}`));
    // The baseline's calls are timed one by one, each one's claims refresh settled untimed before the next.
    const calls = async (method) => {
      let total = 0;
      for (const ids of chunks) {
        total += await timed(() => call(server.base, method, "/v1/groups/g1/members", big, { user_ids: ids }));
        await claimsSettled(server.base, big, ["g1"], 600_000);
      }
      return total;
    };
    const add = await calls("POST");
    const remove = await calls("DELETE");
    const counts = await Promise.all(["g0", "g1"].map((g) => call(server.base, "GET", `/v1/groups/${g}`, big)));
    if (counts.some((c) => c.result.member_count !== 0)) throw new Error("the reconcile or the removes left members behind");
    return {
      patch: {
        plain: { rps: mean(runs.plain, "rps"), p50: mean(runs.plain, "p50") },
        ruled: { rps: mean(runs.ruled, "rps"), p50: mean(runs.ruled, "p50") },
      },
      claim: { floor: floor.rps, rps: claim.rps },
      reconcile: { users: USERS, reconcile, drop, add, remove },
    };
  } finally {
    await server.stop();
  }
}

export function rulesTable({ patch, claim, reconcile }) {
  const users = reconcile.users.toLocaleString("en-US");
  const ms = (x) => `${x.toFixed(0)} ms`;
  return [
    "| case | measured | against | ratio | goal |",
    "| --- | ---: | ---: | ---: | --- |",
    `| profile PATCH with ${RULES} rules vs. none, p50 (autocannon, 10 conn.) | ${patch.ruled.p50.toFixed(1)} ms | ${patch.plain.p50.toFixed(1)} ms | ${(patch.ruled.p50 / patch.plain.p50).toFixed(2)}× | ≤ 3× |`,
    `| the same, req/s | ${patch.ruled.rps.toFixed(0)} | ${patch.plain.rps.toFixed(0)} | ${(patch.plain.rps / patch.ruled.rps).toFixed(2)}× slower | |`,
    `| groups claim, KV hit, in the tenant with ${RULES} rules, req/s vs. /healthz | ${claim.rps.toFixed(0)} | ${claim.floor.toFixed(0)} | ${(claim.rps / claim.floor).toFixed(2)}× | ≥ 0.7× |`,
    `| a rule selecting all ${users} users of a tenant: PUT, reconciled before it answers | ${ms(reconcile.reconcile)} | ${ms(reconcile.add)} to add them, 1,000 per call | ${(reconcile.reconcile / reconcile.add).toFixed(2)}× | |`,
    `| dropping that rule: all ${users} leave | ${ms(reconcile.drop)} | ${ms(reconcile.remove)} to remove them, 1,000 per call | ${(reconcile.drop / reconcile.remove).toFixed(2)}× | |`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(rulesTable(await measureRules()));
}
