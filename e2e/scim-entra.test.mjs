// Microsoft's Entra SCIM test collection (../shared/scim), run with newman against
// wrangler dev: every assertion in its folders must pass.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import newman from "newman";
import { startServer } from "../scripts/local-server.mjs";

// The collection lives beside the project (../shared/scim), never copied into it.
const CANDIDATES = [process.env.ENTRA_SCIM_COLLECTION, "../../shared/scim/", "../../../shared/scim/"]
  .filter(Boolean)
  .map((p) => (p.endsWith(".json") ? p : fileURLToPath(new URL(`${p}entra-scim-postman-collection.json`, import.meta.url))));
const COLLECTION = CANDIDATES.find((p) => existsSync(p)) ?? CANDIDATES[0];
const FOLDERS = [
  "Endpoint tests",
  "User tests",
  "Group tests",
  "ComplexAttribute tests",
  "User tests with garbage",
  "Group tests with garbage",
  "Teardown garbage",
];

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

it("passes every assertion of the Entra SCIM collection", { skip: !existsSync(COLLECTION) && "collection not found" }, async () => {
  const { port } = new URL(server.base);
  const token = await server.token("entra-scim", "scim");
  const summary = await new Promise((resolve, reject) =>
    newman.run(
      {
        collection: COLLECTION,
        folder: FOLDERS,
        envVar: [
          { key: "Protocol", value: "http" },
          { key: "Server", value: "127.0.0.1" },
          { key: "Port", value: `:${port}` },
          { key: "Api", value: "scim/v2" },
          { key: "token", value: token },
        ],
        reporters: ["cli"],
        reporter: { cli: { noSummary: false, noAssertions: false } },
      },
      (err, s) => (err ? reject(err) : resolve(s)),
    ),
  );
  const failures = summary.run.failures.map((f) => `${f.source?.name}: ${f.error?.test ?? ""} ${f.error?.message}`);
  assert.deepEqual(failures, []);
  assert.ok(summary.run.stats.assertions.total >= 60, `ran ${summary.run.stats.assertions.total} assertions`);
});
