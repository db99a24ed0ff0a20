// npm run bench:peaks — the most subrequests (D1, KV, Durable Object calls) one invocation
// (a request, or one call on a Durable Object: an RPC call or an alarm run) makes on the heaviest paths, beside
// Cloudflare's limit of 1,000. A local server runs the Worker behind the test suite's
// limits layer (EDGE_GROUPS_LIMITS=on), which counts them and refuses what production
// refuses; run.mjs prints this table after its timings.

import { pathToFileURL } from "node:url";
import { claimsSettled, startServer } from "../scripts/local-server.mjs";
import { groupsSql, membershipsSql, recountSql, usersSql } from "./seeds.mjs";

const TENANT = "peaks";

async function json(res, what) {
  const body = await res.json();
  if (!res.ok) throw new Error(`${what}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function measurePeaks() {
  process.env.EDGE_GROUPS_LIMITS = "on";
  const seed = [
    // "big": 10,000 members, renamed below. "many-*": 1,000 groups "joiner0" is in, deleted below.
    `INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at) VALUES ('${TENANT}', 'big', 'Big', 'big', 0, 0);`,
    usersSql(TENANT, "m", 10_000),
    membershipsSql(TENANT, "m", 10_000, "big", 1, "''"),
    groupsSql(TENANT, "many-", 1_000),
    usersSql(TENANT, "joiner", 1),
    membershipsSql(TENANT, "joiner", 1, "many-", 1_000, "k"),
    recountSql(TENANT),
  ].join("\n");
  const server = await startServer({ seedSql: seed });
  try {
    const headers = { authorization: `Bearer ${await server.token(TENANT)}`, "content-type": "application/json" };
    const tracker = { authorization: `Bearer ${await server.token(TENANT, "group_api")}`, "content-type": "application/json" };
    const send = (method, path, body, h = headers) =>
      fetch(`${server.base}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const cases = [
      [
        "add 1,000 members to a group",
        () => send("POST", "/v1/groups/big/members", { user_ids: Array.from({ length: 1_000 }, (_, i) => `new-${i}`) }),
        ["big"],
      ],
      [
        "a 1,000-event group call batch over 20 groups",
        () =>
          send(
            "POST",
            "/api/group",
            Array.from({ length: 1_000 }, (_, k) => ({
              user_id: `ev-${k}`,
              group_id: `acct-${k % 20}`,
              timestamp: new Date().toISOString(),
              traits: { group_type: "Account" },
            })),
            tracker,
          ),
        Array.from({ length: 20 }, (_, k) => `acct-${k}`),
      ],
      ["rename a group over 11,000 users", () => send("PATCH", "/v1/groups/big", { name: "Bigger" }), ["big"]],
      ["delete a user in 1,000 groups", () => send("DELETE", "/v1/users/joiner0"), ["big"]],
    ];
    const rows = [];
    for (const [name, act, groups] of cases) {
      await json(await fetch(`${server.base}/__limits`, { method: "DELETE" }), "reset");
      const res = await act();
      if (!res.ok) throw new Error(`${name}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer().catch(() => undefined);
      await claimsSettled(server.base, headers, groups, 120_000);
      const seen = await json(await fetch(`${server.base}/__limits`), "limits");
      const [objectCall, objectPeak] = Object.entries(seen.peaks_by_object_call).sort((a, b) => b[1] - a[1])[0] ?? ["none", 0];
      rows.push({
        name,
        peak: seen.peak_subrequests,
        objectCall: `${objectCall} ${objectPeak}`,
        limit: seen.limit,
        refusals: seen.kv_refusals,
      });
    }
    return rows;
  } finally {
    await server.stop();
    delete process.env.EDGE_GROUPS_LIMITS;
  }
}

export function peaksTable(rows) {
  return [
    "| heaviest path | most subrequests in one invocation | the heaviest Durable Object call among them | Cloudflare's limit | KV writes refused |",
    "| --- | ---: | --- | ---: | ---: |",
    ...rows.map((r) => `| ${r.name} | ${r.peak} | ${r.objectCall} | ${r.limit} | ${r.refusals} |`),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(peaksTable(await measurePeaks()));
