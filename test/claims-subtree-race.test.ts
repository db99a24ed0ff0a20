import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { claimKey } from "../src/core/claims";
import { tenantScoped } from "../src/core/shared/ids";
import { type Client, claimsSettled, claimsWritten, client, env, eventually } from "./helpers";

// A change to what everyone under a group inherits (deleting it, linking or unlinking a
// child, renaming it) reads who is under the group, queues their claims refresh, and then
// commits. A user who joins a child group in between, and whose own refresh reads D1 before
// that commit, was in neither refresh: their claim kept a deleted group, missed a new parent
// or kept the old name for good. Each test makes that interleaving happen: the first time
// the coordinator queues a refresh (after its read, before its commit), u joins the child
// and u's claim is written, then the change commits.

const claim = async (tenant: string, user: string) =>
  ((await env.CLAIMS.get(claimKey(tenant, user), "json")) as { values?: string[] } | null)?.values?.slice().sort();

type Journal = (tenantId: string) => (userIds: string[]) => Promise<void>;

/** Before the object named `name` first queues a refresh, run `meanwhile` (u joins the child, u's claim is written). */
async function interleave(name: string, meanwhile: () => Promise<void>) {
  const stub = env.GROUP_COORDINATOR.get(env.GROUP_COORDINATOR.idFromName(name));
  await runInDurableObject(stub, async (instance) => {
    const object = instance as unknown as { journal: Journal };
    const journal = object.journal;
    let first = true;
    object.journal = (tenantId) => async (userIds) => {
      if (first) {
        first = false;
        await meanwhile();
      }
      await journal(tenantId)(userIds);
    };
  });
}

async function setup(linked: boolean) {
  const api = await client(undefined, { scope: "admin" });
  const parent = (await api.post("/v1/groups", { name: "Parent" })).json.result.group_id as string;
  const child = (await api.post("/v1/groups", { name: "Child" })).json.result.group_id as string;
  if (linked) expect((await api.post(`/v1/groups/${parent}/children`, { group_ids: [child] })).status).toBe(200);
  // Someone already under the parent, so the change has users of its own to refresh.
  expect((await api.post(`/v1/groups/${child}/members`, { user_ids: ["early"] })).status).toBe(200);
  expect((await api.put("/v1/users/u", { name: "U" })).status).toBe(201);
  await claimsSettled(api, [parent, child]);
  return { api, parent, child };
}

/** u joins the child, and u's claim is written from D1 as it is now (the change not yet committed). */
const joinAndWrite = (api: Client, child: string, expected: string[]) => async () => {
  expect((await api.post(`/v1/groups/${child}/members`, { user_ids: ["u"] })).status).toBe(200);
  await eventually(async () => JSON.stringify(await claim(api.tenant, "u")) === JSON.stringify(expected), 10_000, 50);
};

describe("a user joining under a group while a change to the group is on its way", () => {
  it("loses a deleted parent from their claim", async () => {
    const { api, parent, child } = await setup(true);
    await interleave(tenantScoped(api.tenant, parent), joinAndWrite(api, child, ["Child", "Parent"]));
    expect((await api.del(`/v1/groups/${parent}`)).status).toBe(204);
    await claimsSettled(api, [child]);
    await claimsWritten(api.tenant);
    expect((await api.get("/v1/users/u/groups?transitive=true")).json.result.map((g: { name: string }) => g.name)).toEqual(["Child"]);
    expect(await claim(api.tenant, "u")).toEqual(["Child"]);
    expect(await claim(api.tenant, "early")).toEqual(["Child"]);
  });

  it("gains a newly linked parent in their claim", async () => {
    const { api, parent, child } = await setup(false);
    await interleave(tenantScoped(api.tenant, "~hierarchy"), joinAndWrite(api, child, ["Child"]));
    expect((await api.post(`/v1/groups/${parent}/children`, { group_ids: [child] })).json.result).toMatchObject({ linked: 1 });
    await claimsSettled(api, [parent, child]);
    await claimsWritten(api.tenant);
    expect(await claim(api.tenant, "u")).toEqual(["Child", "Parent"]);
    expect(await claim(api.tenant, "early")).toEqual(["Child", "Parent"]);
  });

  it("loses an unlinked parent from their claim", async () => {
    const { api, parent, child } = await setup(true);
    await interleave(tenantScoped(api.tenant, "~hierarchy"), joinAndWrite(api, child, ["Child", "Parent"]));
    expect((await api.del(`/v1/groups/${parent}/children`, { group_ids: [child] })).json.result).toMatchObject({ unlinked: 1 });
    await claimsSettled(api, [parent, child]);
    await claimsWritten(api.tenant);
    expect(await claim(api.tenant, "u")).toEqual(["Child"]);
    expect(await claim(api.tenant, "early")).toEqual(["Child"]);
  });

  it("gets a renamed parent's new name in their claim", async () => {
    const { api, parent, child } = await setup(true);
    await interleave(tenantScoped(api.tenant, parent), joinAndWrite(api, child, ["Child", "Parent"]));
    expect((await api.patch(`/v1/groups/${parent}`, { name: "Renamed" })).status).toBe(200);
    await claimsSettled(api, [parent, child]);
    await claimsWritten(api.tenant);
    expect(await claim(api.tenant, "u")).toEqual(["Child", "Renamed"]);
    expect(await claim(api.tenant, "early")).toEqual(["Child", "Renamed"]);
  });
});
