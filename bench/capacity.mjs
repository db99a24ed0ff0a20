// npm run bench:capacity — what one D1 database holds and takes, for the capacity model in
// ARCHITECTURE.md. The data is written by the service itself, through its API, on a local
// server; then SQLite's dbstat (the sqlite3 command) measures the bytes each table and its
// indexes take on disk, per row. Last, the memberships one database takes a second:
// 1,000-member adds to 20 groups at once, against the one-at-a-time /healthz floor.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { claimsSettled, floorMs, startServer } from "../scripts/local-server.mjs";

const QUICK = process.argv.includes("--quick");
const USERS = QUICK ? 500 : 2_000;
const GROUPS = 20;
const SINGLE_ADDS = QUICK ? 100 : 500;
const EXTRA_GROUPS = QUICK ? 100 : 480;

async function api(base, headers, method, path, body) {
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Run these calls 10 at a time. */
async function tenAtATime(calls) {
  for (let i = 0; i < calls.length; i += 10) await Promise.all(calls.slice(i, i + 10).map((c) => c()));
}

const DEPARTMENTS = ["Engineering", "Sales", "Support", "Finance", "Marketing"];

/** The tenant's data, through the API: profiles, groups, bulk and single adds (each with its events). */
async function load(base, headers) {
  const groups = [];
  for (let g = 0; g < GROUPS; g++) {
    const made = await api(base, headers, "POST", "/v1/groups", { name: `Team ${String(g).padStart(3, "0")} ${DEPARTMENTS[g % 5]}` });
    groups.push(made.result.group_id);
  }
  // More groups, without members, so the groups' bytes are measured over whole pages.
  await tenAtATime(
    Array.from(
      { length: EXTRA_GROUPS },
      (_, g) => () =>
        api(base, headers, "POST", "/v1/groups", { name: `Project ${g} ${DEPARTMENTS[g % 5]}`, description: "The project's people" }),
    ),
  );
  await tenAtATime(
    Array.from(
      { length: USERS },
      (_, i) => () =>
        api(base, headers, "PUT", `/v1/users/user-${i}`, {
          email: `first.last${i}@example.com`,
          name: `First Last${i}`,
          given_name: "First",
          family_name: `Last${i}`,
          custom_data: { department: DEPARTMENTS[i % 5], employee_number: 100_000 + i },
        }),
    ),
  );
  // Each user in half the groups: one 1,000-member add per group and 1,000 users.
  for (const [g, id] of groups.entries()) {
    const ids = Array.from({ length: USERS }, (_, i) => `user-${i}`).filter((_, i) => (i + g) % 2 === 0);
    for (let k = 0; k < ids.length; k += 1_000)
      await api(base, headers, "POST", `/v1/groups/${id}/members`, { user_ids: ids.slice(k, k + 1_000) });
  }
  // Single adds, as identity providers push them (one membership, one event each).
  await tenAtATime(
    Array.from(
      { length: SINGLE_ADDS },
      (_, i) => () => api(base, headers, "POST", `/v1/groups/${groups[i % GROUPS]}/members`, { user_ids: [`late-${i}`] }),
    ),
  );
  await claimsSettled(base, headers, groups, 300_000);
  const claim = await api(base, headers, "GET", "/v1/users/user-0/claims");
  const settings = (await api(base, headers, "GET", "/v1/config")).result.claim;
  // What the user's KV key holds (core/claims/reads.ts StoredClaim).
  const stored = JSON.stringify({ stamp: JSON.stringify(settings), values: claim.result.groups, count: claim.result.groups.length });
  return { groups, claimBytes: Buffer.byteLength(stored), claimGroups: claim.result.groups.length };
}

/** Memberships a second: 20 adds of 1,000 new members each, to 20 groups at once. */
async function writeRate(base, headers, groups) {
  const t = performance.now();
  await Promise.all(
    groups.map((id, g) =>
      api(base, headers, "POST", `/v1/groups/${id}/members`, { user_ids: Array.from({ length: 1_000 }, (_, k) => `rate-${g}-${k}`) }),
    ),
  );
  const seconds = (performance.now() - t) / 1000;
  return { memberships: groups.length * 1_000, seconds, perSecond: (groups.length * 1_000) / seconds };
}

function sqliteFile(state) {
  const found = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".sqlite") && path.includes("/d1/")) found.push(path);
    }
  };
  walk(state);
  // The database's own file, beside the local runtime's small bookkeeping one: the largest.
  const largest = found.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!largest) throw new Error(`no local D1 file under ${state}`);
  return largest;
}

const query = (file, sql) => JSON.parse(execFileSync("sqlite3", ["-json", "-readonly", file, sql], { encoding: "utf8" }).trim() || "[]");

/** Bytes on disk per table and its indexes (dbstat), and the rows of each. */
function measure(file) {
  const objects = query(file, "SELECT name, tbl_name AS tbl FROM sqlite_master WHERE type IN ('table', 'index')");
  const sizes = new Map(query(file, "SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name").map((r) => [r.name, r.bytes]));
  const tables = ["groups", "users", "memberships", "audit_log", "webhook_deliveries", "group_rules"];
  return tables.map((table) => {
    const rows = query(file, `SELECT count(*) AS n FROM ${table}`)[0].n;
    const own = sizes.get(table) ?? 0;
    const indexes = objects.filter((o) => o.tbl === table && o.name !== table).reduce((n, o) => n + (sizes.get(o.name) ?? 0), 0);
    return { table, rows, tableBytes: own, indexBytes: indexes, perRow: rows ? (own + indexes) / rows : null };
  });
}

export async function measureCapacity() {
  const state = mkdtempSync(join(tmpdir(), "edge-groups-capacity-"));
  try {
    const server = await startServer({ state });
    let loaded;
    try {
      loaded = await load(server.base, await auth(server));
    } finally {
      await server.stop();
    }
    const file = sqliteFile(state);
    const events = query(
      file,
      "SELECT action, count(*) AS n, avg(length(detail)) AS detail FROM audit_log GROUP BY action ORDER BY n DESC",
    );
    const tables = measure(file);
    // The write rate on a database of its own, so its bare users do not blur the profiles' bytes above.
    const fresh = await startServer();
    try {
      const headers = await auth(fresh);
      const groups = [];
      for (let g = 0; g < GROUPS; g++)
        groups.push((await api(fresh.base, headers, "POST", "/v1/groups", { name: `Rate ${g}` })).result.group_id);
      const floor = await floorMs(fresh.base);
      const rate = await writeRate(fresh.base, headers, groups);
      return { tables, events, claim: { bytes: loaded.claimBytes, groups: loaded.claimGroups }, rate, floor };
    } finally {
      await fresh.stop();
    }
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

const auth = async (server) => ({ authorization: `Bearer ${await server.token("capacity")}`, "content-type": "application/json" });

export function capacityTable({ tables, events, claim, rate, floor }) {
  const n = (x) => Math.round(x).toLocaleString("en-US");
  return [
    "| rows of | rows | table bytes | index bytes | bytes a row, indexes included |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...tables.map(
      (t) => `| ${t.table} | ${n(t.rows)} | ${n(t.tableBytes)} | ${n(t.indexBytes)} | ${t.perRow === null ? "" : n(t.perRow)} |`,
    ),
    "",
    `Events by kind: ${events.map((e) => `${e.action} ${n(e.n)} (detail ${n(e.detail)} B on average)`).join("; ")}.`,
    `A claim in KV for a user in ${claim.groups} groups: ${n(claim.bytes)} bytes.`,
    `One database took ${n(rate.memberships)} new memberships from 20 concurrent 1,000-member adds in ${rate.seconds.toFixed(2)} s: ${n(rate.perSecond)} a second (floor ${floor.toFixed(1)} ms one request at a time).`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(capacityTable(await measureCapacity()));
}
