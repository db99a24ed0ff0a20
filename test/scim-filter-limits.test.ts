// The largest SCIM filters allowed answer (SQLite refuses an expression tree over 100 levels,
// and a chain of ORs counts a level for each); one comparison or one level of nesting more is
// 400 invalidFilter, never a 500. Found from outside: 99 `userName pr` ORed, or 100 nested
// `not (...)`, answered 500 ("Expression tree is too large").
import { describe, expect, it } from "vitest";
import { MAX_FILTER_NESTING, MAX_FILTER_TERMS } from "../src/core/scim/filter";
import { call, client } from "./helpers";

const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

/** n comparisons of one kind, joined by `joiner`. */
const chain = (n: number, term: (i: number) => string, joiner = " or ") => Array.from({ length: n }, (_, i) => term(i)).join(joiner);
/** `levels` of nesting around `inner`: not, and, or in turn (each a level of the parsed filter). */
function nest(levels: number, inner: string, attr: string) {
  let f = inner;
  for (let i = 0; i < levels; i++) f = i % 3 === 0 ? `not (${f})` : i % 3 === 1 ? `${attr} pr and (${f})` : `${attr} pr or (${f})`;
  return f;
}

describe("SCIM filters at their limits", () => {
  it("answers the largest filters allowed, and refuses one comparison or one level more with invalidFilter", async () => {
    const api = await client(undefined, { scope: "scim admin" });
    const made = await call("POST", "/scim/v2/Users", {
      token: api.token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "a1@example.com", emails: [{ value: "a1@example.com" }] },
    });
    expect(made.status, made.text).toBe(201);
    const list = (resource: string, filter: string) =>
      call("GET", `/scim/v2/${resource}?filter=${encodeURIComponent(filter)}&count=5`, { token: api.token });

    // Nested filters: the chain inside is a level too, and leaves room for the nesting's own comparisons.
    const innerTerms = MAX_FILTER_TERMS - Math.ceil((MAX_FILTER_NESTING * 2) / 3);
    const largest: [string, string][] = [
      ["Users", chain(MAX_FILTER_TERMS, () => "userName pr")],
      ["Users", chain(MAX_FILTER_TERMS, () => "userName pr", " and ")],
      ["Users", chain(MAX_FILTER_TERMS, (i) => `userName eq "a${i}@example.com"`)],
      ["Users", chain(MAX_FILTER_TERMS / 2, (i) => `emails.value eq "a${i}@example.com"`)], // two bound values each
      [
        "Users",
        nest(
          MAX_FILTER_NESTING - 1,
          chain(innerTerms, () => "userName pr"),
          "userName",
        ),
      ],
      [
        "Users",
        nest(
          MAX_FILTER_NESTING - 1,
          chain(innerTerms, () => 'userName ne "x"', " and "),
          "userName",
        ),
      ],
      ["Groups", chain(MAX_FILTER_TERMS, () => "displayName pr")],
      [
        "Groups",
        nest(
          MAX_FILTER_NESTING - 1,
          chain(innerTerms, () => "displayName pr"),
          "displayName",
        ),
      ],
    ];
    for (const [resource, filter] of largest) {
      const res = await list(resource, filter);
      expect(res.status, `${resource} ${filter.slice(0, 80)}...: ${res.text}`).toBe(200);
    }
    expect((await list("Users", largest[0]![1])).json.totalResults).toBe(1);
    expect((await list("Users", largest[4]![1])).json.totalResults).toBe(0); // an odd count of nots around a match

    const refused: [string, RegExp][] = [
      [chain(MAX_FILTER_TERMS + 1, () => "userName pr"), /comparisons; at most/],
      [nest(MAX_FILTER_NESTING + 1, "userName pr", "userName"), /levels deep; at most/],
      [nest(100, "userName pr", "userName"), /levels deep; at most/],
      [`${"not (".repeat(150)}userName eq "a"${")".repeat(150)}`, /levels deep; at most/],
    ];
    for (const [filter, message] of refused) {
      const res = await list("Users", filter);
      expect(res.status, `${filter.slice(0, 80)}: ${res.text}`).toBe(400);
      expect(res.json).toMatchObject({ schemas: [ERROR], scimType: "invalidFilter", detail: expect.stringMatching(message) });
    }
  });

  it("holds for group rules, which compile the same filters", async () => {
    const api = await client(undefined, { scope: "admin" });
    const preview = (expression: string) => api.post("/v1/rules/preview", { expression });
    const largest = nest(
      MAX_FILTER_NESTING - 1,
      chain(MAX_FILTER_TERMS - 6, () => "email pr"),
      "email",
    );
    const ok = await preview(largest);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.result.matched).toBe(0);
    const deep = await preview(`${"not (".repeat(150)}email pr${")".repeat(150)}`);
    expect(deep.status, deep.text).toBe(400);
    expect(deep.text).toMatch(/levels deep; at most/);
  });
});
