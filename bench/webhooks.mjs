// npm run bench:webhooks — what the change stream costs and how fast it reaches a receiver.
// 1. Events on a 1,000-member add: two local servers behind the limits layer, one of them
//    with every event INSERT turned into a statement that writes nothing (EDGE_GROUPS_EVENTS=off),
//    called in turn, so both see the same machine at the same moments. Goal: ≤ 1.15×.
// 2. Webhook delivery: 100 groups created 50 ms apart on a local server, each event delivered
//    to a receiver on 127.0.0.1; the time from a change's answer to its delivery (p50, p99),
//    beside the one-at-a-time /healthz floor of the same run.

import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { claimsSettled, floorMs, median, startServer } from "../scripts/local-server.mjs";
import { groupsSql } from "./seeds.mjs";

const QUICK = process.argv.includes("--quick");

async function limitedServer(events) {
  process.env.EDGE_GROUPS_LIMITS = "on";
  if (!events) process.env.EDGE_GROUPS_EVENTS = "off";
  try {
    return await startServer({ seedSql: groupsSql("cost", "g", 1) });
  } finally {
    delete process.env.EDGE_GROUPS_LIMITS;
    delete process.env.EDGE_GROUPS_EVENTS;
  }
}

async function eventsCost() {
  const rounds = QUICK ? 4 : 12;
  const servers = { with: await limitedServer(true), without: await limitedServer(false) };
  try {
    const times = { with: [], without: [] };
    for (let i = 0; i < rounds; i++) {
      for (const which of i % 2 === 0 ? ["with", "without"] : ["without", "with"]) {
        const server = servers[which];
        const auth = { authorization: `Bearer ${await server.token("cost")}`, "content-type": "application/json" };
        const ids = Array.from({ length: 1000 }, (_, k) => `m-${i}-${k}`);
        const t = performance.now();
        const res = await fetch(`${server.base}/v1/groups/g0/members`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ user_ids: ids }),
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`add on the server ${which} events: ${res.status}`);
        times[which].push(performance.now() - t);
        await claimsSettled(server.base, auth, ["g0"], 120_000);
      }
    }
    // The server without events really wrote none, and the other one event per add.
    for (const [which, want] of [
      ["with", rounds],
      ["without", 0],
    ]) {
      const server = servers[which];
      const auth = { authorization: `Bearer ${await server.token("cost")}` };
      const held = (await (await fetch(`${server.base}/v1/events?types=group.members.added&limit=1000`, { headers: auth })).json()).result
        .length;
      if (held !== want) throw new Error(`the server ${which} events holds ${held} add events, not ${want}`);
    }
    return { rounds, with: median(times.with), without: median(times.without) };
  } finally {
    await Promise.all([servers.with.stop(), servers.without.stop()]);
  }
}

async function receiver() {
  const arrived = new Map();
  const http = createServer((req, res) => {
    const id = req.headers["webhook-id"];
    req.resume();
    req.on("end", () => {
      if (!arrived.has(id)) arrived.set(id, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${http.address().port}/hook`, arrived, close: () => http.close() };
}

async function deliveryLatency() {
  const n = QUICK ? 40 : 100;
  const server = await startServer();
  const sink = await receiver();
  try {
    const floor = await floorMs(server.base);
    const auth = { authorization: `Bearer ${await server.token("hooked")}`, "content-type": "application/json" };
    const hook = await fetch(`${server.base}/v1/webhooks`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ url: sink.url, types: ["group.created"] }),
    });
    if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${await hook.text()}`);
    const answered = new Map();
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${server.base}/v1/groups`, { method: "POST", headers: auth, body: JSON.stringify({ name: `hooked ${i}` }) });
      const at = performance.now();
      if (res.status !== 201) throw new Error(`group: ${res.status}`);
      answered.set((await res.json()).result.group_id, at);
      await new Promise((r) => setTimeout(r, 50));
    }
    const events = (await (await fetch(`${server.base}/v1/events?types=group.created&limit=1000`, { headers: auth })).json()).result;
    const deadline = Date.now() + 60_000;
    while (events.some((e) => !sink.arrived.has(e.id))) {
      if (Date.now() > deadline) throw new Error(`${events.filter((e) => !sink.arrived.has(e.id)).length} events not delivered in 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const lags = events.map((e) => sink.arrived.get(e.id) - answered.get(e.group_id)).sort((a, b) => a - b);
    return { n, floor, p50: lags[Math.floor(n / 2)], p99: lags[Math.ceil(n * 0.99) - 1] };
  } finally {
    sink.close();
    await server.stop();
  }
}

export async function measureWebhooks() {
  return { cost: await eventsCost(), delivery: await deliveryLatency() };
}

export function webhooksTable({ cost, delivery }) {
  return [
    "| case | measured | against | ratio | goal |",
    "| --- | ---: | ---: | ---: | --- |",
    `| add 1,000 members in one call, with its event vs. without (${cost.rounds} calls each, in turn) | ${cost.with.toFixed(1)} ms | ${cost.without.toFixed(1)} ms | ${(cost.with / cost.without).toFixed(2)}× | ≤ 1.15× |`,
    `| webhook delivery: a change's answer → the receiver has it, p50 (${delivery.n} changes, 50 ms apart) | ${delivery.p50.toFixed(0)} ms | floor ${delivery.floor.toFixed(1)} ms | | |`,
    `| webhook delivery, p99 | ${delivery.p99.toFixed(0)} ms | | | |`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(webhooksTable(await measureWebhooks()));
}
