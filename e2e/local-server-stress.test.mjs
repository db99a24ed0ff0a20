// The local server under an SDK-flush-sized burst, repeated: 25 parallel /v1/batch calls of
// 100 group events over 10 groups, with 20 single-member adds on other groups and reads, in
// 5 rounds a second apart. The server answers throughout with no 5xx, and afterwards every
// acknowledged event and add is there exactly once, counts equal rows, claims equal D1.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { startServer } from "../scripts/local-server.mjs";
import { apiKey, burst, ledger, makeGroups, verify } from "./load.mjs";

const ROUNDS = 5;
let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

it(`holds ${ROUNDS} rounds of 25 parallel 100-event batches with adds and reads: no 5xx, every acknowledged write there once`, async () => {
  const token = await server.token("stress", "admin");
  const writeKey = await apiKey(server.base, token, ["group_api"]);
  const addGroups = await makeGroups(server.base, token, 20);
  const l = ledger();
  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    await burst(server.base, { writeKey, token, addGroups, round, l });
    assert.deepEqual(l.failures, [], `round ${round}`);
    assert.ok(server.alive(), `the server died in round ${round}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  assert.equal(l.events.size, ROUNDS * 25 * 100);
  assert.equal(l.adds.length, ROUNDS * 20);
  const checked = await verify(server.base, token, l, addGroups, { exact: true });
  console.log(
    `# ${l.answered} requests answered in ${((Date.now() - started) / 1000).toFixed(1)} s; ${checked.events} events over ${checked.groups} groups present once; ${checked.claimsChecked} claims equal D1 (settled ${checked.settledMs} ms after the last round)`,
  );
});
