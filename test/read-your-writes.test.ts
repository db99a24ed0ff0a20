// D1 sessions: every answer carries the newest D1 bookmark the request saw (x-d1-bookmark),
// it moves on with every write (a coordinator's included), and a request that sends it back is
// served from a database at least that new.
import { describe, expect, it } from "vitest";
import { call, client } from "./helpers";

describe("read-your-writes bookmarks", () => {
  it("answers with a bookmark that moves on with each write, and serves a request that sends it", async () => {
    const api = await client();
    const created = await api.post("/v1/groups", { name: "Bookmarked" });
    const first = created.headers.get("x-d1-bookmark");
    // The shard the bookmark is of, then D1's bookmark.
    expect(first).toMatch(/^DB(_[23])?\.[0-9A-Za-z-]+$/);
    const g = created.json.result.group_id as string;

    // A member add is written by the group's coordinator: its bookmark comes back too.
    const added = await call("POST", `/v1/groups/${g}/members`, {
      token: api.token,
      headers: { "x-d1-bookmark": first! },
      body: { user_ids: ["ann"] },
    });
    expect(added.status).toBe(200);
    const second = added.headers.get("x-d1-bookmark");
    expect(second).toBeTruthy();
    expect(second).not.toBe(first);
    expect([first, second].sort()).toEqual([first, second]);

    const read = await call("GET", `/v1/groups/${g}/members`, { token: api.token, headers: { "x-d1-bookmark": second! } });
    expect(read.status).toBe(200);
    expect(read.json.result.map((m: { user_id: string }) => m.user_id)).toEqual(["ann"]);
    expect(read.headers.get("x-d1-bookmark")! >= second!).toBe(true);
  });

  it("takes a bookmark of another shard (the tenant has moved since) by reading from the primary", async () => {
    const api = await client();
    const made = await api.post("/v1/groups", { name: "Moved" });
    const [shard, bookmark] = made.headers.get("x-d1-bookmark")!.split(".");
    const other = ["DB", "DB_2", "DB_3"].find((s) => s !== shard)!;
    const res = await call("GET", "/v1/groups", { token: api.token, headers: { "x-d1-bookmark": `${other}.${bookmark}` } });
    expect(res.status).toBe(200);
    expect(res.json.result.map((g: { name: string }) => g.name)).toEqual(["Moved"]);
    expect(res.headers.get("x-d1-bookmark")!.startsWith(`${shard}.`)).toBe(true);
  });

  it("ignores a malformed bookmark rather than failing the request", async () => {
    const api = await client();
    const res = await call("GET", "/v1/groups", { token: api.token, headers: { "x-d1-bookmark": "not a bookmark!" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-d1-bookmark")).toMatch(/^DB(_[23])?\.[0-9A-Za-z-]+$/);
  });
});
