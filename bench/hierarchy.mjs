// npm run bench:hierarchy — a 1,000-group, 6-level hierarchy with 100,000 users in its
// leaf groups, seeded set-based; times the reads that walk it (one recursive CTE each)
// against the /healthz floor measured in the same run.
import { floorMs, latency, startServer } from "../scripts/local-server.mjs";

// Level sizes 1, 5, 20, 80, 250, 644: 1,000 groups; each group's parent is in the level above.
const LEVELS = [1, 5, 20, 80, 250, 644];
const starts = LEVELS.map((_, i) => LEVELS.slice(0, i).reduce((a, b) => a + b, 0));
const leafStart = starts[5];
const USERS = 100_000;

const levelOf = (i) => `(CASE ${starts.map((s, l) => `WHEN i >= ${s} AND i < ${s + LEVELS[l]} THEN ${l}`).join(" ")} END)`;
const seedSql = `
INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at)
  SELECT 'bench', 'g' || i, 'group ' || i, 'group ' || i, 0, 0
  FROM (WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) SELECT i FROM n);
INSERT INTO group_edges (tenant_id, parent_id, child_id, created_at)
  SELECT 'bench', 'g' || (${starts.map((s, l) => (l === 0 ? "" : `CASE WHEN lvl = ${l} THEN ${starts[l - 1]} + ((i - ${s}) % ${LEVELS[l - 1]}) END`)).filter(Boolean).map((c) => `coalesce(${c}, 0)`).join(" + ")}), 'g' || i, 0
  FROM (SELECT i, ${levelOf("i")} AS lvl FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 999) SELECT i FROM n));
INSERT INTO users (tenant_id, id, created_at, updated_at)
  SELECT 'bench', 'u' || u, 0, 0 FROM (WITH RECURSIVE n(u) AS (SELECT 0 UNION ALL SELECT u + 1 FROM n WHERE u < ${USERS - 1}) SELECT u FROM n);
INSERT INTO memberships (tenant_id, group_id, user_id, added_at)
  SELECT 'bench', 'g' || (${leafStart} + (u % ${LEVELS[5]})), 'u' || u, 0 FROM (WITH RECURSIVE n(u) AS (SELECT 0 UNION ALL SELECT u + 1 FROM n WHERE u < ${USERS - 1}) SELECT u FROM n);
UPDATE groups SET member_count = (SELECT count(*) FROM memberships m WHERE m.tenant_id = 'bench' AND m.group_id = groups.id) WHERE tenant_id = 'bench';
`;

const server = await startServer({ seedSql });
try {
  const headers = { authorization: `Bearer ${await server.token("bench")}` };
  const floor = await floorMs(server.base);
  const root = await (await fetch(`${server.base}/v1/groups/g0`, { headers })).json();
  if (root.result.user_count !== USERS) throw new Error(`seed check: root user_count ${root.result.user_count}, expected ${USERS}`);
  const cases = [
    ["root group with user_count (100,000 users, 1,000 groups)", "/v1/groups/g0", 20],
    ["a level-4 group with user_count", `/v1/groups/g${starts[4]}`, 100],
    ["first page of the root's transitive members", "/v1/groups/g0/members?transitive=true&limit=50", 20],
    ["a leaf user's groups, transitive (6 levels)", "/v1/users/u7/groups?transitive=true", 100],
    ["a leaf user's claim (inherited groups)", "/v1/users/u7/claims", 100],
  ];
  console.log(`floor: GET /healthz median ${floor.toFixed(2)} ms`);
  for (const [name, path, n] of cases) {
    const { p50, p99 } = await latency(server.base, path, headers, n);
    console.log(`${name.padEnd(58)} p50 ${p50.toFixed(1).padStart(8)} ms  p99 ${p99.toFixed(1).padStart(8)} ms  ${(p50 / floor).toFixed(1).padStart(7)}x floor`);
  }
} finally {
  server.stop();
}
