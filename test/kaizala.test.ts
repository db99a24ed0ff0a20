import { describe, expect, it } from "vitest";
import { call, client, freshTenant, shardOf, token } from "./helpers";

async function kaizala(tenant = freshTenant("kz"), sub = "kz-admin", scope = "groups:read groups:write") {
  const t = await token({ tenant, sub, scope });
  const headers = { accessToken: t };
  return {
    tenant,
    token: t,
    post: (path: string, body: unknown) => call("POST", `/kaizala${path}`, { body, headers }),
    get: (path: string) => call("GET", `/kaizala${path}`, { headers }),
  };
}

const SUMMARY_FIELDS = [
  "groupName",
  "groupId",
  "groupImageUrl",
  "hasSubGroups",
  "hasParentGroups",
  "isMappedToTenant",
  "groupType",
  "userCount",
  "currentLevelUserCount",
  "callerRole",
];
const DETAIL_FIELDS = [
  "currentLevelSubGroupCount",
  "currentLevelParentGroupCount",
  "uniqueUserCount",
  "currentLevelUnProvisionedUserCount",
  "unProvisionedUserCount",
  "isDuplicate",
  "isEditable",
  "isDetailsReadable",
];

describe("conversation groups (seed 004)", () => {
  it("creates the seed's sample group: the caller is Admin, the number joins as a bare user", async () => {
    const k = await kaizala();
    const r = await k.post("/v1/groups", {
      name: "Kaizala Test group",
      welcomeMessage: "Welcome to group created programmatically",
      members: ["+911099999999"],
      groupType: "Group",
    });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({ groupName: "Kaizala Test group", groupId: expect.any(String), membersAdded: true, invalidMembers: [] });

    const native = await client(k.tenant);
    const group = (await native.get(`/v1/groups/${r.json.groupId}`)).json.result;
    expect(group).toMatchObject({ type: "Group", welcome_message: "Welcome to group created programmatically", member_count: 2 });
    const members = (await native.get(`/v1/groups/${r.json.groupId}/members`)).json.result;
    expect(members.map((m: any) => [m.user_id === "kz-admin" ? "caller" : m.phone_number, m.role]).sort()).toEqual([
      ["+911099999999", "member"],
      ["caller", "admin"],
    ]);

    // A second group with the same number finds the same user.
    const again = await k.post("/v1/groups", { name: "Second", welcomeMessage: "Hi", members: ["+911099999999"] });
    const rows = await (await shardOf(k.tenant))
      .prepare("SELECT count(*) AS n FROM users WHERE tenant_id = ? AND phone_number = ?")
      .bind(k.tenant, "+911099999999")
      .first<{ n: number }>();
    expect(rows!.n).toBe(1);
    expect((await native.get(`/v1/groups/${again.json.groupId}`)).json.result.type).toBe("Group");

    // The change stream: each new profile created once, by the call that made it, through this surface.
    const phoneUser = members.find((m: any) => m.phone_number === "+911099999999").user_id;
    const admin = await client(k.tenant, { scope: "admin" });
    const made = (await admin.get("/v1/events?types=user.created")).json.result;
    expect(made.map((e: any) => [e.source, e.actor, e.user_ids])).toEqual([
      ["conversation-groups", "kz-admin", ["kz-admin"]], // the caller joins first, as the group's admin
      ["conversation-groups", "kz-admin", [phoneUser]],
    ]);
  });

  it("lists invalid numbers, still adds the valid ones, and says membersAdded false", async () => {
    const k = await kaizala();
    const r = await k.post("/v1/groups", {
      name: "Mixed",
      welcomeMessage: "Hi",
      members: ["+14155550123", "12345", "+0123456789", "+447700900123"],
      groupType: "ConnectGroup",
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ membersAdded: false, invalidMembers: ["12345", "+0123456789"] });
    const native = await client(k.tenant);
    const g = (await native.get(`/v1/groups/${r.json.groupId}`)).json.result;
    expect(g).toMatchObject({ type: "ConnectGroup", member_count: 3 });
  });

  it("refuses bad input in its own error format, changing nothing", async () => {
    const k = await kaizala();
    for (const body of [
      { name: "X", welcomeMessage: "Hi", groupType: "Channel" },
      { name: "X" },
      { name: "", welcomeMessage: "Hi" },
      { name: "X", welcomeMessage: "Hi", members: "+14155550123" },
    ]) {
      const r = await k.post("/v1/groups", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json).toMatchObject({ errorCode: "invalid", message: expect.any(String) });
    }
    expect((await call("GET", "/kaizala/v1/groups")).json).toMatchObject({ errorCode: "unauthorized" });
    const rows = await (await shardOf(k.tenant))
      .prepare("SELECT count(*) AS n FROM groups WHERE tenant_id = ?")
      .bind(k.tenant)
      .first<{ n: number }>();
    expect(rows!.n).toBe(0);
    // A standard Bearer header works too.
    expect((await call("GET", "/kaizala/v1/groups", { token: k.token })).status).toBe(200);
  });

  it("lists the caller's groups with callerRole, counts and, with fetchAllGroups, the hierarchy around them", async () => {
    const tenant = freshTenant("kz");
    const admin = await kaizala(tenant, "boss");
    const native = await client(tenant);
    const org = (await native.post("/v1/groups", { name: "Org", type: "Organisation" })).json.result.group_id;
    const team = (await admin.post("/v1/groups", { name: "Team", welcomeMessage: "Hi", members: ["+14155550101", "+14155550102"] })).json
      .groupId;
    const sub = (await native.post("/v1/groups", { name: "Squad", custom_data: { groupImageUrl: "https://img.example/squad.png" } })).json
      .result.group_id;
    await native.post(`/v1/groups/${org}/children`, { group_ids: [team] });
    await native.post(`/v1/groups/${team}/children`, { group_ids: [sub] });
    await native.post(`/v1/groups/${sub}/members`, { user_ids: ["squaddie", "boss"] });
    await native.put("/v1/users/squaddie", { name: "Squad Member" });

    const mine = await admin.get("/v1/groups");
    expect(mine.status).toBe(200);
    expect(mine.json.groups.map((g: any) => [g.groupName, g.callerRole])).toEqual([
      ["Squad", "Member"],
      ["Team", "Admin"],
    ]);
    for (const g of mine.json.groups) expect(Object.keys(g).sort()).toEqual([...SUMMARY_FIELDS].sort());

    const all = await admin.get("/v1/groups?fetchAllGroups=true&showDetail=true");
    const byName = Object.fromEntries(all.json.groups.map((g: any) => [g.groupName, g]));
    expect(Object.keys(byName).sort()).toEqual(["Org", "Squad", "Team"]);
    for (const g of all.json.groups) expect(Object.keys(g)).toEqual(expect.arrayContaining([...SUMMARY_FIELDS, ...DETAIL_FIELDS]));
    expect(byName.Team).toMatchObject({
      callerRole: "Admin",
      hasSubGroups: true,
      hasParentGroups: true,
      isMappedToTenant: false,
      groupType: "Group",
      userCount: 4,
      currentLevelUserCount: 3,
      currentLevelSubGroupCount: 1,
      currentLevelParentGroupCount: 1,
      uniqueUserCount: 2,
      currentLevelUnProvisionedUserCount: 3,
      unProvisionedUserCount: 3,
      isDuplicate: true,
      isEditable: true,
      isDetailsReadable: true,
      welcomeMessage: "Hi",
    });
    expect(byName.Org).toMatchObject({
      callerRole: "Member",
      isMappedToTenant: true,
      userCount: 4,
      currentLevelUserCount: 0,
      hasParentGroups: false,
      isEditable: false,
    });
    expect(byName.Squad).toMatchObject({
      callerRole: "Member",
      groupImageUrl: "https://img.example/squad.png",
      userCount: 2,
      uniqueUserCount: 1,
      currentLevelUnProvisionedUserCount: 1,
    });

    // A plain member of Team sees Team as Member, and Squad below it as None.
    const member = await kaizala(tenant, "watcher");
    await native.post(`/v1/groups/${team}/members`, { user_ids: ["watcher"] });
    const seen = await member.get("/v1/groups?fetchAllGroups=true");
    expect(seen.json.groups.map((g: any) => [g.groupName, g.callerRole])).toEqual([
      ["Org", "Member"],
      ["Squad", "None"],
      ["Team", "Member"],
    ]);
  });

  it("reads one group the caller may see; any other is 404", async () => {
    const tenant = freshTenant("kz");
    const k = await kaizala(tenant, "owner");
    const id = (await k.post("/v1/groups", { name: "Mine", welcomeMessage: "Hi" })).json.groupId;
    const one = await k.get(`/v1/groups/${id}`);
    expect(one.status).toBe(200);
    expect(one.json.groups).toHaveLength(1);
    expect(one.json.groups[0]).toMatchObject({
      groupId: id,
      groupName: "Mine",
      callerRole: "Admin",
      userCount: 1,
      currentLevelUserCount: 1,
    });

    const stranger = await kaizala(tenant, "stranger");
    expect(await stranger.get(`/v1/groups/${id}`)).toMatchObject({ status: 404, json: { errorCode: "not_found" } });
    const otherTenant = await kaizala(freshTenant("kz"), "owner");
    expect((await otherTenant.get(`/v1/groups/${id}`)).status).toBe(404);
  });
});
