import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { afterAll } from "vitest";

// A test file's runtime closes as soon as its last test ends. A Durable Object alarm that
// fires then (the claims handoff a member write arms for "now", a claims writer waiting out
// KV's one-write-a-second per key) asks vitest to resolve the Worker's module on the way in,
// and vitest fails the whole run with "Closing rpc while "resolve" was pending" though every
// test passed. So each file waits here until no alarm is due within the next few seconds and
// the last ones have had time to finish. Alarms set further out (expiries, long retries) are
// left alone: they cannot fire before the runtime is gone.
const HORIZON_MS = 3_000;
const MOST_MS = 15_000;
const FINISH_MS = 200;

async function armedIn<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>) {
  const ids = await listDurableObjectIds(namespace);
  return Promise.all(ids.map((id) => runInDurableObject(namespace.get(id), (_instance, state) => state.storage.getAlarm())));
}

async function soonestAlarm(): Promise<number | null> {
  const armed = [...(await armedIn(env.GROUP_COORDINATOR)), ...(await armedIn(env.CLAIMS_WRITER))];
  const times = armed.filter((at): at is number => at !== null);
  return times.length > 0 ? Math.min(...times) : null;
}

afterAll(async () => {
  const giveUpAt = Date.now() + MOST_MS;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Quiet twice, FINISH_MS apart: an alarm running at the first look shows no alarm, and may arm the next one.
  for (let quiet = 0; quiet < 2 && Date.now() <= giveUpAt; ) {
    const at = await soonestAlarm();
    if (at === null || at > Date.now() + HORIZON_MS) {
      quiet += 1;
      await sleep(FINISH_MS);
    } else {
      quiet = 0;
      await sleep(Math.max(at - Date.now(), 0) + 50);
    }
  }
  // A look reads every object's alarm, hundreds of objects after the heaviest files (input-limits): on a loaded
  // machine this hook once took over 30 s, its last look started inside MOST_MS. The bound is for a hung runtime only.
}, 120_000);
