// npm run bench:hierarchy — a 1,000-group, 6-level hierarchy with 100,000 users in its
// leaf groups, seeded set-based; times the reads that walk it (one recursive CTE each)
// against the /healthz floor measured in the same run.
import { floorMs, latency, startServer } from "../scripts/local-server.mjs";
import { hierarchySql, LEVEL_STARTS as starts } from "./seeds.mjs";

const USERS = 100_000;
const seedSql = hierarchySql("bench", USERS);

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
    console.log(
      `${name.padEnd(58)} p50 ${p50.toFixed(1).padStart(8)} ms  p99 ${p99.toFixed(1).padStart(8)} ms  ${(p50 / floor).toFixed(1).padStart(7)}x floor`,
    );
  }
} finally {
  await server.stop();
}
