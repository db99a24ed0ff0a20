// npm run bench:members — adds 10,000 members to one group in 10 calls of 1,000, then
// waits until the last member's claim shows the group. Prints times and their ratio to
// the /healthz floor measured in the same run. Locally, wrangler dev runs the Worker,
// D1 and KV on one workerd thread, so back-to-back calls share it with the claims
// refresh of the calls before them; the settled figure is one call with nothing behind it.
import { floorMs, median, startServer } from "../scripts/local-server.mjs";

const server = await startServer();
try {
  const floor = await floorMs(server.base);
  const auth = { authorization: `Bearer ${await server.token("bench")}`, "content-type": "application/json" };
  const created = await fetch(`${server.base}/v1/groups`, { method: "POST", headers: auth, body: JSON.stringify({ name: "bench" }) });
  const group = (await created.json()).result.group_id;
  const calls = [];
  const started = performance.now();
  for (let c = 0; c < 10; c++) {
    const user_ids = Array.from({ length: 1000 }, (_, i) => `user-${c * 1000 + i}`);
    const t = performance.now();
    const res = await fetch(`${server.base}/v1/groups/${group}/members`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ user_ids }),
    });
    if (!res.ok) throw new Error(`add failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    calls.push(performance.now() - t);
  }
  const added = performance.now() - started;
  for (;;) {
    const res = await fetch(`${server.base}/v1/users/user-9999/claims`, { headers: auth });
    const body = await res.json();
    if (body.result?.groups?.includes("bench")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const claimsDone = performance.now() - started;
  // One more call of 1,000 on a settled server (no claims refresh running behind it).
  await new Promise((r) => setTimeout(r, 1000));
  const t = performance.now();
  const extra = Array.from({ length: 1000 }, (_, i) => `late-${i}`);
  const res = await fetch(`${server.base}/v1/groups/${group}/members`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ user_ids: extra }),
  });
  await res.arrayBuffer();
  const settled = performance.now() - t;
  const row = (name, ms) => `${name.padEnd(42)} ${ms.toFixed(1).padStart(9)} ms  ${(ms / floor).toFixed(1).padStart(7)}x floor`;
  console.log(`floor: GET /healthz median ${floor.toFixed(2)} ms`);
  console.log(`per call: ${calls.map((c) => c.toFixed(0)).join(", ")} ms`);
  console.log(row("add 1,000 members, settled server (11th call)", settled));
  console.log(row("add 1,000 members (median of 10 back-to-back)", median(calls)));
  console.log(row("add 10,000 members (10 calls, total)", added));
  console.log(row("... until user-9999's claim shows the group", claimsDone));
} finally {
  await server.stop();
}
