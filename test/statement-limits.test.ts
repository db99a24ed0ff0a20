import { describe, expect, it } from "vitest";
import { MAX_FILTER_VALUES } from "../src/core/scim/filter";
import { call, client, freshTenant } from "./helpers";

// D1 binds at most 100 values in a statement (the local runtime allows far more): a SCIM
// filter that would compile past that is refused in SCIM's format, never sent to D1.
const USER = "urn:ietf:params:scim:schemas:core:2.0:User";

describe("statements stay within D1's 100 bound values", () => {
  it("refuses a SCIM filter comparing more values than a statement can bind (400 invalidFilter), and runs one within the bound", async () => {
    const api = await client(freshTenant("limits"), { scope: "scim" });
    for (const n of [3, 7]) {
      expect(
        (await call("POST", "/scim/v2/Users", { token: api.token, body: { schemas: [USER], userName: `u${n}@a.example` } })).status,
      ).toBe(201);
    }
    const filterOf = (n: number) => Array.from({ length: n }, (_, i) => `userName eq "u${i}@a.example"`).join(" or ");
    const within = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent(filterOf(40))}`, { token: api.token });
    expect(within.status, within.text).toBe(200);
    expect(within.json.Resources.map((u: { userName: string }) => u.userName).sort()).toEqual(["u3@a.example", "u7@a.example"]);

    const past = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent(filterOf(MAX_FILTER_VALUES + 40))}`, { token: api.token });
    expect(past.status).toBe(400);
    expect(past.json).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "400", scimType: "invalidFilter" });
    expect(past.json.detail).toMatch(/at most 80/);
  });
});
