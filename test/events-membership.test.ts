// The change stream's member events say what the change did to membership, so a consumer
// that folds them (added: join, removed: leave, replaced: added and removed) holds each
// group's members exactly, whichever surfaces and sources made the changes.
import { describe, expect, it } from "vitest";
import { type Client, call, client, seeded } from "./helpers";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async function memberEvents(api: Client, groupId: string) {
  const r = await api.get(
    `/v1/events?limit=1000&group_id=${groupId}&types=group.members.added,group.members.removed,group.members.replaced`,
  );
  expect(r.status, r.text).toBe(200);
  return r.json.result as { type: string; source: string; user_ids: string[]; detail: Record<string, any> }[];
}

async function directMembers(api: Client, groupId: string) {
  const r = await api.get(`/v1/groups/${groupId}/members?limit=200`);
  expect(r.status, r.text).toBe(200);
  return (r.json.result as { user_id: string }[]).map((m) => m.user_id).sort();
}

/** What a downstream consumer would hold after reading these events. */
function fold(events: Awaited<ReturnType<typeof memberEvents>>) {
  const members = new Set<string>();
  for (const e of events) {
    if (e.type === "group.members.added") for (const u of e.user_ids) members.add(u);
    if (e.type === "group.members.removed") for (const u of e.user_ids) members.delete(u);
    if (e.type === "group.members.replaced") {
      for (const u of e.detail.removed) members.delete(u);
      for (const u of e.detail.added) members.add(u);
    }
  }
  return [...members].sort();
}

const scimPatch = (api: Client, groupId: string, op: object) =>
  call("PATCH", `/scim/v2/Groups/${groupId}`, { token: api.token, body: { schemas: [PATCH_OP], Operations: [op] } });

describe("change stream: member events name the users whose membership changed", () => {
  it("adds, removes and replaces across sources: joined and left in user_ids, the others in detail", async () => {
    const api = await client(undefined, { scope: "admin scim" });
    const g = (await api.post("/v1/groups", { name: "Sources" })).json.result.group_id;
    expect((await api.post(`/v1/groups/${g}/members`, { user_ids: ["u1"] })).status).toBe(200);
    expect((await api.post(`/v1/groups/${g}/members`, { user_ids: ["u1", "u2"] })).json.result).toEqual({ added: 1, already_members: 1 });
    expect((await api.del(`/v1/groups/${g}/members`, { user_ids: ["u2", "u3"] })).json.result).toMatchObject({
      removed: 1,
      not_members: 1,
    });
    expect((await api.del(`/v1/groups/${g}/members`, { user_ids: ["u9"] })).json.result).toMatchObject({ removed: 0, not_members: 1 });
    expect((await scimPatch(api, g, { op: "add", path: "members", value: [{ value: "u1" }] })).status).toBe(204);
    const kept = await api.del(`/v1/groups/${g}/members`, { user_ids: ["u1"] });
    expect(kept.json.result.still_members).toEqual([{ user_id: "u1", sources: ["scim"] }]);
    expect((await api.put(`/v1/groups/${g}/members`, { user_ids: ["u5"] })).status).toBe(200);
    expect((await api.put(`/v1/groups/${g}/members`, { user_ids: ["u6"] })).status).toBe(200);

    const events = await memberEvents(api, g);
    expect(events.map((e) => [e.type, e.source, e.user_ids, e.detail])).toEqual([
      ["group.members.added", "native", ["u1"], { role: "member" }],
      ["group.members.added", "native", ["u2"], { role: "member", already_members: ["u1"] }],
      ["group.members.removed", "native", ["u2"], {}],
      // Nothing changed, and the call is still on record.
      ["group.members.removed", "native", [], {}],
      ["group.members.added", "scim", [], { role: "member", already_members: ["u1"] }],
      ["group.members.removed", "native", [], { still_members: [{ user_id: "u1", sources: ["scim"] }] }],
      ["group.members.replaced", "native", ["u5"], { role: "member", added: ["u5"], removed: [] }],
      ["group.members.replaced", "native", ["u6"], { role: "member", added: ["u6"], removed: ["u5"] }],
    ]);
    expect(await directMembers(api, g)).toEqual(["u1", "u6"]);
    expect(fold(events)).toEqual(["u1", "u6"]);
    // A user's filter finds the events that touched them without changing their membership too.
    const ofU1 = await api.get(`/v1/events?user_id=u1&group_id=${g}&types=group.members.added,group.members.removed`);
    expect(ofU1.json.result).toHaveLength(4);
    const ofU5 = await api.get(`/v1/events?user_id=u5&group_id=${g}&types=group.members.replaced`);
    expect(ofU5.json.result).toHaveLength(2);
  });

  it("a replace that lets more than 1,000 users go names 1,000 of them and says how many left", async () => {
    const api = await client(undefined, { scope: "admin" });
    const g = (await api.post("/v1/groups", { name: "Many leave" })).json.result.group_id;
    const batch = (k: number) => Array.from({ length: 1_000 }, (_, i) => `l${k}-${i}`);
    for (const k of [0, 1]) expect((await api.post(`/v1/groups/${g}/members`, { user_ids: batch(k) })).status).toBe(200);
    expect((await api.put(`/v1/groups/${g}/members`, { user_ids: ["stays"] })).json.result).toMatchObject({ added: 1, removed: 2_000 });
    const replaced = (await memberEvents(api, g)).find((e) => e.type === "group.members.replaced")!;
    expect(replaced.user_ids).toEqual(["stays"]);
    expect(replaced.detail.added).toEqual(["stays"]);
    expect(replaced.detail.removed).toHaveLength(1_000);
    const gone = new Set([...batch(0), ...batch(1)]);
    expect(replaced.detail.removed.filter((u: string) => !gone.has(u))).toEqual([]);
    expect(replaced.detail.removed_count).toBe(2_000);
    expect(await directMembers(api, g)).toEqual(["stays"]);
  });

  it("an analytics group call for a member names no one as added", async () => {
    const api = await client(undefined, { scope: "admin" });
    const g = (await api.post("/v1/groups", { name: "Tracked" })).json.result.group_id;
    await api.post(`/v1/groups/${g}/members`, { user_ids: ["t1"] });
    for (const userId of ["t1", "t2"]) {
      expect((await api.post("/v1/group", { userId, groupId: g, traits: { plan: "pro" } })).status).toBe(200);
    }
    const added = (await memberEvents(api, g)).map((e) => [e.source, e.user_ids, e.detail.already_members]);
    expect(added).toEqual([
      ["native", ["t1"], undefined],
      ["analytics", [], ["t1"]],
      ["analytics", ["t2"], undefined],
    ]);
  });

  it("folded, the events of concurrent changes from three surfaces give each group's members", async () => {
    const api = await client(undefined, { scope: "admin scim" });
    const frontegg = { authorization: `Bearer ${api.token}`, "frontegg-tenant-id": api.tenant };
    const groups = [
      (await api.post("/v1/groups", { name: "F1" })).json.result.group_id,
      (await api.post("/v1/groups", { name: "F2" })).json.result.group_id,
    ];
    const users = Array.from({ length: 8 }, (_, i) => `f${i}`);
    const random = seeded(19);
    const pick = <T>(a: T[]) => a[Math.floor(random() * a.length)]!;
    const some = () => [...new Set([pick(users), pick(users), pick(users)])];
    const changes = Array.from({ length: 120 }, () => {
      const [g, kind] = [pick(groups), Math.floor(random() * 6)];
      if (kind === 0) return () => api.post(`/v1/groups/${g}/members`, { user_ids: some() });
      if (kind === 1) return () => api.del(`/v1/groups/${g}/members`, { user_ids: some() });
      if (kind === 2) return () => api.put(`/v1/groups/${g}/members`, { user_ids: some() });
      if (kind === 3) return () => scimPatch(api, g, { op: "add", path: "members", value: some().map((value) => ({ value })) });
      if (kind === 4) return () => scimPatch(api, g, { op: "remove", path: `members[value eq "${pick(users)}"]` });
      return () => call("POST", `/resources/groups/v1/${g}/users`, { body: { userIds: some() }, headers: frontegg });
    });
    const answers = await Promise.all(changes.map((change) => change()));
    expect(answers.filter((a) => a.status >= 300).map((a) => a.text)).toEqual([]);
    for (const g of groups) {
      const members = await directMembers(api, g);
      expect(members.length).toBeGreaterThan(0);
      expect(fold(await memberEvents(api, g))).toEqual(members);
    }
  });
});
