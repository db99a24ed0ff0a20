// A bounded write burst as an analytics SDK flush and an identity provider make it, and
// the checks that every acknowledged write is there exactly once afterwards. Used by the
// stress and kill tests (against npm start's server) and by `npm run stress` (against any
// local server, e.g. wrangler dev, to tell when upstream fixes its crash).
import assert from "node:assert/strict";
import { claimsSettled } from "../scripts/local-server.mjs";

export const GROUPS = 10;
const SHARED_USERS = 20;
const TIMEOUT_MS = 60_000;

/** An API key of the tenant with these scopes (made with an admin token). */
export async function apiKey(base, adminToken, scopes) {
  const res = await fetch(`${base}/v1/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `load ${scopes.join(" ")}`, scopes }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).result.secret;
}

/** What the client learnt of its writes: acknowledged (2xx) or not, and every 5xx or network failure. */
export function ledger() {
  return { events: new Map(), adds: [], failures: [], answered: 0 };
}

async function send(l, kind, url, init) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const text = await res.text();
    l.answered += 1;
    if (res.status >= 500) l.failures.push(`${kind}: ${res.status} ${text.slice(0, 120)}`);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch (e) {
    l.failures.push(`${kind}: ${e.cause?.code ?? e.name} ${e.message}`);
    return { status: 0 };
  }
}

/**
 * One round: `calls` parallel /v1/batch calls of `events` group events over GROUPS groups
 * (sent with the write key as HTTP Basic), with `adds` single-member adds on as many other
 * groups and reads, all at once. Users are new in every event, but for SHARED_USERS users who
 * join groups across calls, so claims are rewritten by several coordinators.
 */
export async function burst(base, { writeKey, token, addGroups, round, calls = 25, events = 100, l }) {
  const basic = `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`;
  const work = [];
  for (let c = 0; c < calls; c++) {
    const batch = Array.from({ length: events }, (_, k) => {
      const shared = k % 20 === 0;
      return {
        type: "group",
        userId: shared ? `shared-${(c + k + round) % SHARED_USERS}` : `u-${round}-${c}-${k}`,
        groupId: `sg-${(c + k) % GROUPS}`,
        messageId: `m-${round}-${c}-${k}`,
        traits: { round, k },
      };
    });
    work.push(
      send(l, "batch", `${base}/v1/batch`, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/json" },
        body: JSON.stringify({ batch }),
      }).then((r) => {
        if (r.status !== 200 || r.body?.success !== true) return;
        const dropped = new Set((r.body.dropped ?? []).map((d) => d.index));
        for (const [i, e] of batch.entries()) if (!dropped.has(i)) l.events.set(e.messageId, e);
      }),
    );
  }
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  addGroups.forEach((gid, i) => {
    const user = `mu-${round}-${i}`;
    work.push(
      send(l, "add", `${base}/v1/groups/${gid}/members`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ user_ids: [user] }),
      }).then((r) => {
        if (r.status === 200) l.adds.push({ gid, user });
      }),
    );
  });
  for (const path of [
    "/v1/groups?limit=50",
    `/v1/users/shared-${round % SHARED_USERS}/claims`,
    "/v1/groups/sg-1/members?limit=20",
    `/v1/groups/${addGroups[0]}`,
  ]) {
    work.push(send(l, `read ${path}`, `${base}${path}`, { headers: auth }));
  }
  await Promise.all(work);
}

/** Groups for the single-member adds. */
export async function makeGroups(base, token, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/v1/groups`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `adds ${i}` }),
    });
    assert.equal(res.status, 201);
    ids.push((await res.json()).result.group_id);
  }
  return ids;
}

async function get(base, token, path) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
}

async function members(base, token, gid) {
  const ids = [];
  let cursor;
  do {
    const page = await get(
      base,
      token,
      `/v1/groups/${encodeURIComponent(gid)}/members?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    ids.push(...page.result.map((m) => m.user_id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

/**
 * Every acknowledged write is there, and no group is half-applied: each group's member
 * count equals its member rows. exact: nothing else is there either (no kill happened, so
 * every applied write was acknowledged). Claims of the shared users and a sample of others
 * equal their groups in D1.
 */
export async function verify(base, token, l, addGroups, { exact }) {
  const expected = new Map();
  for (const e of l.events.values()) {
    if (!expected.has(e.groupId)) expected.set(e.groupId, new Set());
    expected.get(e.groupId).add(e.userId);
  }
  for (const [gid, users] of expected) {
    const group = (await get(base, token, `/v1/groups/${gid}`)).result;
    const rows = await members(base, token, gid);
    assert.equal(rows.length, group.member_count, `${gid}: member_count ${group.member_count} but ${rows.length} member rows`);
    assert.equal(new Set(rows).size, rows.length, `${gid}: a member listed twice`);
    const missing = [...users].filter((u) => !rows.includes(u));
    assert.deepEqual(missing.slice(0, 5), [], `${gid}: ${missing.length} acknowledged members missing`);
    if (exact) assert.equal(rows.length, users.size, `${gid}: ${rows.length} members, ${users.size} acknowledged`);
  }
  for (const gid of addGroups) {
    const group = (await get(base, token, `/v1/groups/${gid}`)).result;
    const rows = await members(base, token, gid);
    assert.equal(rows.length, group.member_count, `${gid}: count and rows differ`);
    const acked = l.adds.filter((a) => a.gid === gid).map((a) => a.user);
    assert.deepEqual(
      acked.filter((u) => !rows.includes(u)),
      [],
      `${gid}: acknowledged adds missing`,
    );
    if (exact) assert.equal(rows.length, acked.length);
  }
  const settledMs = await claimsSettled(base, { authorization: `Bearer ${token}` }, [...expected.keys(), ...addGroups], 30_000);
  const sample = [...new Set([...l.events.values()].map((e) => e.userId))].filter((u, i) => u.startsWith("shared-") || i % 97 === 0);
  for (const user of sample) {
    const held = (await get(base, token, `/v1/users/${user}/groups?limit=200`)).result.map((g) => g.name).sort();
    const claim = (await get(base, token, `/v1/users/${user}/claims`)).result;
    assert.deepEqual([...(claim.groups ?? [])].sort(), held, `${user}: claim differs from D1`);
  }
  return { groups: expected.size, events: l.events.size, claimsChecked: sample.length, settledMs };
}
