import { describe, expect, it } from "vitest";
import { isShowable, UNSHOWABLE_GLOB } from "../src/core/shared/validation";
import { call, client, freshTenant, shardOf } from "./helpers";

// Contains, starts-with and ends-with compare text exactly, at any length the API allows:
// production D1 refuses LIKE patterns over 50 bytes, so none of these use LIKE.
const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const long = `${"x".repeat(70)}-tail`; // 75 bytes: past D1's pattern limit

describe("text matching past D1's 50-byte LIKE limit", () => {
  it("SCIM co, sw and ew filters match long values, and take % and _ literally", async () => {
    const api = await client(freshTenant("match"), { scope: "scim" });
    const make = (userName: string) => call("POST", "/scim/v2/Users", { token: api.token, body: { schemas: [USER], userName } });
    for (const userName of [`${long}@a.example`, "100%_real@a.example", "100xyreal@a.example", "plain@a.example"])
      expect((await make(userName)).status).toBe(201);
    const names = async (filter: string) => {
      const res = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent(filter)}`, { token: api.token });
      expect(res.status, res.text).toBe(200);
      return res.json.Resources.map((u: { userName: string }) => u.userName).sort();
    };
    expect(await names(`userName sw "${long}"`)).toEqual([`${long}@a.example`]);
    expect(await names(`userName co "${long.slice(5)}"`)).toEqual([`${long}@a.example`]);
    expect(await names(`userName ew "${long.slice(10)}@a.example"`)).toEqual([`${long}@a.example`]);
    expect(await names(`userName sw "${long}-and-more-than-the-name"`)).toEqual([]);
    expect(await names('userName co "%_"')).toEqual(["100%_real@a.example"]);
    expect(await names('userName sw "100%"')).toEqual(["100%_real@a.example"]);
    expect(await names('userName ew "_REAL@A.EXAMPLE"')).toEqual(["100%_real@a.example"]);
  });

  it("member search matches a long prefix, and takes % and _ literally", async () => {
    const api = await client(freshTenant("match"), { scope: "admin" });
    const gid = (await api.post("/v1/groups", { name: "g" })).json.result.group_id;
    await api.put(`/v1/users/${long}`, { email: "long@a.example" });
    await api.put("/v1/users/pct", { name: "50%_off" });
    await api.put("/v1/users/pxx", { name: "50xxoff" });
    await api.post(`/v1/groups/${gid}/members`, { user_ids: [long, "pct", "pxx"] });
    const found = async (search: string) => {
      const res = await api.get(`/v1/groups/${gid}/members?search=${encodeURIComponent(search)}`);
      expect(res.status, res.text).toBe(200);
      return res.json.result.map((m: { user_id: string }) => m.user_id).sort();
    };
    expect(await found(long.toUpperCase())).toEqual([long]);
    expect(await found("50%_")).toEqual(["pct"]);
    expect(await found("50")).toEqual(["pct", "pxx"]);
  });
});

describe("the one GLOB: a name people read, judged in SQL as in JS", () => {
  it("fits D1's 50-byte pattern limit and finds exactly the characters isShowable refuses", async () => {
    expect(new TextEncoder().encode(UNSHOWABLE_GLOB).length).toBeLessThanOrEqual(50);
    const db = await shardOf(freshTenant("glob"));
    const samples = [
      "Acme",
      "Équipe R&D",
      "\u200Fצוות",
      "Team 👩\u200D💻",
      "zw\u200Cnj",
      "Admins\u202Esnimda",
      "tab\there",
      "esc\u001b[31m",
      "del\u007f",
      "c1\u0085",
      "Admin\u200Bs",
      "line\u2028sep",
      "iso\u2066x",
      "wj\u2060",
      "b\uFEFFom",
      "\u009f",
      "\u00a0nbsp",
    ];
    for (const s of samples) {
      const row = await db.prepare("SELECT ? GLOB ? AS hit").bind(s, UNSHOWABLE_GLOB).first<{ hit: number }>();
      expect(row!.hit === 1, JSON.stringify(s)).toBe(!isShowable(s));
    }
  });
});
