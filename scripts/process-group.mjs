// A child in a process group of its own, so it and everything it starts (Miniflare's
// workerd) can be signalled, and awaited, as one.
import { spawn } from "node:child_process";

export function spawnGroup(command, args, options = {}) {
  return spawn(command, args, { ...options, detached: true });
}

/** Whether any process of the group is still there. */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

export function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after graceMs; resolves once no process of the group is left. */
export async function stopGroup(pgid, graceMs = 10_000) {
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  while (groupAlive(pgid)) {
    signalGroup(pgid, "SIGKILL");
    await sleep(50);
  }
}
