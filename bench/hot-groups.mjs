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

async function measure(delayMs) {
  if (delayMs > 0) {
    process.env.EDGE_GROUPS_LIMITS = "on";
    process.env.EDGE_GROUPS_D1_DELAY_MS = String(delayMs);
  }
  const seed = [groupsSql("hot", "s", 200), groupsSql("hot", "everyone", 2), usersSql("hot", "scim", 1_000, { userName: true })].join("\n");
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
    // How the coordinator grouped the adds: one audit time per flush (core/members/flush.ts).
    const flushes = new Set();
    let adds = 0;
    for (let cursor; ; ) {
      const page = await (
        await fetch(`${server.base}/v1/groups/everyone0/audit?limit=200${cursor ? `&cursor=${cursor}` : ""}`, { headers: auth })
      ).json();
      for (const e of page.result) {
        if (e.action !== "members.add") continue;
        adds++;
        flushes.add(e.at);
      }
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
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
        name: `one group's adds per flush: ${(adds / flushes.size).toFixed(1)} (${adds} adds in ${flushes.size} flushes)${label}`,
        ms: NaN,
        vsFloor: NaN,
        // A flush is 2 D1 round trips: at 10 ms each, the group's capacity is this many adds a second.
        perSecond: delayMs > 0 ? (adds / flushes.size) * (1_000 / (2 * delayMs)) : NaN,
      },
    ];
  } finally {
    await server.stop();
    delete process.env.EDGE_GROUPS_LIMITS;
    delete process.env.EDGE_GROUPS_D1_DELAY_MS;
  }
}

export async function measureHotGroups() {
  return [...(await measure(0)), ...(await measure(10))];
}

export function hotGroupsTable(rows) {
  return [
    "| hot group case | ms for all | vs floor (same number of /healthz) | changes per second |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) =>
      Number.isNaN(r.ms)
        ? `| ${r.name} | | | ${Number.isNaN(r.perSecond) ? "" : `${r.perSecond.toFixed(0)} (model: adds per flush ÷ two D1 round trips)`} |`
        : `| ${r.name} | ${r.ms.toFixed(0)} | ${r.vsFloor.toFixed(2)}× | ${r.perSecond.toFixed(0)} |`,
    ),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(hotGroupsTable(await measureHotGroups()));
