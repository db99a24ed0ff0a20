// npm start leaves nothing running: not after a stop, not after a failed start; and it
// starts the server again on the same state when the server dies.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { groupAlive, spawnGroup, stopGroup } from "../scripts/process-group.mjs";

const START = new URL("../scripts/start.mjs", import.meta.url).pathname;

/** npm start (without the console build) in a group of its own; resolves with its output so far. */
function npmStart(port, state) {
  const child = spawnGroup(process.execPath, [START], {
    env: { ...process.env, PORT: String(port), EDGE_GROUPS_STATE: state },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((r) => child.once("exit", (code) => r(code)));
  return { child, exited, output: () => output };
}

async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const healthy = async (port) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  } catch {
    return false;
  }
};
const serverGroup = (output) => Number([...output.matchAll(/process group (\d+)/g)].at(-1)?.[1]);

it("stops every process it started (the server's whole group) on Ctrl-C, and restarts a server that died", async () => {
  const port = 8700 + Math.floor(Math.random() * 80);
  const state = mkdtempSync(join(tmpdir(), "edge-groups-lifecycle-"));
  const start = npmStart(port, state);
  try {
    await until(async () => serverGroup(start.output()) > 0 && (await healthy(port)), 90_000, "npm start serves");
    const first = serverGroup(start.output());

    // The server dies (kill -9 of its group): the supervisor says so and serves again on the same state.
    process.kill(-first, "SIGKILL");
    await until(async () => serverGroup(start.output()) !== first && (await healthy(port)), 90_000, "served again");
    assert.match(start.output(), /restarting it on the same state \(1 of 5/);
    const second = serverGroup(start.output());
    assert.equal(groupAlive(first), false);

    process.kill(start.child.pid, "SIGINT"); // Ctrl-C
    assert.equal(await start.exited, 0);
    await until(() => !groupAlive(second), 15_000, "the server's group is gone");
    assert.equal(groupAlive(start.child.pid), false);
    assert.equal(await healthy(port), false);
  } finally {
    await stopGroup(start.child.pid, 1_000);
    rmSync(state, { recursive: true, force: true });
  }
});

it("leaves nothing running after a failed start (its port is taken)", async () => {
  const blocker = createServer();
  await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
  const port = blocker.address().port;
  const state = mkdtempSync(join(tmpdir(), "edge-groups-lifecycle-"));
  const start = npmStart(port, state);
  try {
    assert.equal(await start.exited, 1);
    assert.match(start.output(), /did not start/);
    const group = Number(start.output().match(/process group (\d+)/)?.[1]);
    assert.ok(!group, "it never said it was serving");
    assert.equal(groupAlive(start.child.pid), false);
    // The failed server's own group (its node process and its workerd) is gone too.
    const failed = Number(start.output().match(/its processes \(group (\d+)\) are stopped/)?.[1]);
    assert.ok(failed > 0, start.output());
    assert.equal(groupAlive(failed), false);
    // No workerd of a failed start is left: every process of this test's children is gone.
    const { execFileSync } = await import("node:child_process");
    const orphans = execFileSync("ps", ["-eo", "pid,ppid,args"])
      .toString()
      .split("\n")
      .filter((line) => line.includes(`--port ${port}`));
    assert.deepEqual(orphans, []);
  } finally {
    blocker.close();
    await stopGroup(start.child.pid, 1_000);
    rmSync(state, { recursive: true, force: true });
  }
});
