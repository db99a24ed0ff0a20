// npm run bench:hot — one group everyone joins. 200 concurrent single-member adds to one
// group, the same 200 spread over 200 groups, and 1,000 concurrent single-member SCIM
// PATCHes on one group (an identity provider's push), each beside 200 concurrent
// GET /healthz calls in the same run. Run twice: on the plain local server, and behind the
// limits layer with every D1 call delayed 10 ms (production's round trip from a Durable
// Object to D1), where one group's adds per second is the figure that matters.

import { pathToFileURL } from "node:url";
import { claimsSettled, median, startServer } from "../scripts/local-server.mjs";
import { groupsSql, usersSql } from "./seeds.mjs";

const ROUNDS = 3;

/** The response, once its body is read (the timing covers the whole answer). */
async function drained(response) {
  await response.arrayBuffer();
  return response;
}

async function timed(requests) {
  const t = performance.now();
  const answers = await Promise.all(requests.map((r) => r()));
  const ms = performance.now() - t;
  const failed = answers.filter((a) => !a.ok);
  if (failed.length > 0) throw new Error(`${failed.length} of ${answers.length} failed, e.g. ${failed[0].status}`);
  return ms;
}

/** How the coordinator grouped a group's adds: every change of one flush has the same audit time (core/members/flush.ts). */
async function flushSizes(base, auth, groupId) {
  const sizes = new Map();
  for (let cursor; ; ) {
    const page = await (
      await fetch(`${base}/v1/groups/${groupId}/audit?limit=200${cursor ? `&cursor=${cursor}` : ""}`, { headers: auth })
    ).json();
    for (const e of page.result) if (e.action === "members.add") sizes.set(e.at, (sizes.get(e.at) ?? 0) + 1);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  const all = [...sizes.values()];
  return { mean: all.reduce((a, b) => a + b, 0) / all.length, largest: Math.max(...all) };
}

async function measure(delayMs, fullFlushMs) {
  if (delayMs > 0) {
    process.env.EDGE_GROUPS_LIMITS = "on";
    process.env.EDGE_GROUPS_D1_DELAY_MS = String(delayMs);
  }
  const seed = [groupsSql("hot", "s", 200), groupsSql("hot", "everyone", 3), usersSql("hot", "scim", 1_000, { userName: true })].join("\n");
  const server = await startServer({ seedSql: seed });
  try {
    const auth = { authorization: `Bearer ${await server.token("hot")}`, "content-type": "application/json" };
    const scim = { authorization: `Bearer ${await server.token("hot", "scim")}`, "content-type": "application/scim+json" };
    const post =
      (path, body, headers = auth, method = "POST") =>
      () =>
        fetch(`${server.base}${path}`, { method, headers, body: JSON.stringify(body) }).then(drained);
    const settled = (...groups) => claimsSettled(server.base, auth, groups, 120_000);
    const floor = [];
    const one = [];
    const spread = [];
    for (let round = 0; round < ROUNDS; round++) {
      floor.push(await timed(Array.from({ length: 200 }, () => () => fetch(`${server.base}/healthz`).then(drained))));
      one.push(
        await timed(Array.from({ length: 200 }, (_, i) => post("/v1/groups/everyone0/members", { user_ids: [`one-${round}-${i}`] }))),
      );
      await settled("everyone0");
      spread.push(
        await timed(Array.from({ length: 200 }, (_, i) => post(`/v1/groups/s${i}/members`, { user_ids: [`spread-${round}-${i}`] }))),
      );
      await settled("s0", "s50", "s100", "s150");
    }
    const patch = (i) =>
      post(
        "/scim/v2/Groups/everyone1",
        {
          schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          Operations: [{ op: "add", path: "members", value: [{ value: `scim${i}` }] }],
        },
        scim,
        "PATCH",
      );
    const scimMs = await timed(Array.from({ length: 1_000 }, (_, i) => patch(i)));
    await settled("everyone1");
    // A full flush's own work, timed alone: a 100-member add writes what a flush of 100 single adds writes
    // (one read batch, one write batch), less 99 audit rows; less the floor, it is the SQL and the object's work.
    const sequentialFloor = [];
    const hundred = [];
    for (let i = 0; i < (delayMs > 0 ? 0 : 20); i++) {
      // Timed on a quiet server: the claims work each add leaves behind would otherwise run inside the next timing.
      await new Promise((resolve) => setTimeout(resolve, 300));
      sequentialFloor.push(await timed([() => fetch(`${server.base}/healthz`).then(drained)]));
      hundred.push(
        await timed([post("/v1/groups/everyone2/members", { user_ids: Array.from({ length: 100 }, (_, j) => `hundred-${i}-${j}`) })]),
      );
    }
    fullFlushMs ??= Math.max(0, median(hundred) - median(sequentialFloor));
    const alone = await flushSizes(server.base, auth, "everyone0");
    const push = await flushSizes(server.base, auth, "everyone1");
    const f = median(floor);
    const label = delayMs > 0 ? `, D1 +${delayMs} ms per call` : "";
    return [
      { name: `200 concurrent GET /healthz (floor${label})`, ms: f, vsFloor: 1, perSecond: 200_000 / f },
      {
        name: `200 concurrent single-member adds to one group${label}`,
        ms: median(one),
        vsFloor: median(one) / f,
        perSecond: 200_000 / median(one),
      },
      {
        name: `200 concurrent single-member adds over 200 groups${label}`,
        ms: median(spread),
        vsFloor: median(spread) / f,
        perSecond: 200_000 / median(spread),
      },
      {
        name: `1,000 concurrent single-member SCIM PATCHes on one group${label}`,
        ms: scimMs,
        vsFloor: scimMs / (5 * f),
        perSecond: 1_000_000 / scimMs,
      },
      {
        name: `adds per flush on the hot group: ${alone.mean.toFixed(0)} in the 200 adds, ${push.mean.toFixed(0)} (largest ${push.largest}) in the 1,000 PATCHes${label}`,
        ms: NaN,
        vsFloor: NaN,
        // A saturated object applies FLUSH_MAX_OPS changes per flush: two D1 round trips plus the flush's own work.
        perSecond: delayMs > 0 ? (100 * 1_000) / (2 * delayMs + fullFlushMs) : NaN,
        fullFlushMs,
      },
    ];
  } finally {
    await server.stop();
    delete process.env.EDGE_GROUPS_LIMITS;
    delete process.env.EDGE_GROUPS_D1_DELAY_MS;
  }
}

export async function measureHotGroups() {
  const plain = await measure(0);
  // The flush's own work is timed without the delay, which would otherwise be counted twice.
  return [...plain, ...(await measure(10, plain.at(-1).fullFlushMs))];
}

export function hotGroupsTable(rows) {
  return [
    "| hot group case | ms for all | vs floor (same number of /healthz) | changes per second |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) =>
      Number.isNaN(r.ms)
        ? `| ${r.name} | | | ${Number.isNaN(r.perSecond) ? "" : `${r.perSecond.toFixed(0)} (model: 100 adds per flush ÷ (two D1 round trips + ${r.fullFlushMs.toFixed(1)} ms of the flush's own work))`} |`
        : `| ${r.name} | ${r.ms.toFixed(0)} | ${r.vsFloor.toFixed(2)}× | ${r.perSecond.toFixed(0)} |`,
    ),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(hotGroupsTable(await measureHotGroups()));
