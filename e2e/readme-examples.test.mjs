// README's shell examples, run as a newcomer pastes them (in order, in one shell, so a
// variable one block sets is there for the next), against a local server. An example may
// meet a 409 that the state explains (a tenant placed already), or a 404 for the rollback of
// a move that is already done; any other 4xx or a 5xx means the example itself is wrong.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { sign } from "hono/jwt";
import { startServer } from "../scripts/local-server.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const VENDOR = {
  VENDOR_DEV_SECRET: "e2e-readme-vendor-secret-0123456789abcdef",
  VENDOR_ISSUER: "https://vendor.e2e/",
  VENDOR_AUDIENCE: "edge-groups-vendor",
};
// Answers the state explains: the move the example starts is done before its rollback example runs.
const STATE_ANSWERS = [/^404 -s -X DELETE \S+\/vendor\/tenants\/\w+\/move /];
// Blocks that set up or deploy rather than call the API; other tests cover them.
const NOT_API_CALLS = /\bnpm (ci|start|test)\b|npm run (deploy|wrangler|build)/;

/** The README's sh blocks that call the API, in order, with its hosts pointed at base. */
function apiExamples(readme, base) {
  const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const host = base.replace(/^http:\/\//, "");
  return blocks
    .filter((b) => /\bcurl\b/.test(b) && !NOT_API_CALLS.test(b))
    .map((b) => b.replaceAll("https://…", base).replaceAll("http://127.0.0.1:8787", base).replaceAll("localhost:8787", host));
}

let server;
let work;
before(async () => {
  process.env.EDGE_GROUPS_VARS = JSON.stringify(VENDOR);
  server = await startServer();
  work = mkdtempSync(join(tmpdir(), "edge-groups-readme-"));
});
after(async () => {
  await server?.stop();
  delete process.env.EDGE_GROUPS_VARS;
  if (work) rmSync(work, { recursive: true, force: true });
});

it("every curl example in README.md works as written", async () => {
  const examples = apiExamples(readFileSync(join(ROOT, "README.md"), "utf8"), server.base);
  assert.ok(examples.length >= 5, `README's API examples: found ${examples.length}`);
  const statusLog = join(work, "statuses");
  // What the examples take from the reader: a group of theirs (the rule example) and a vendor token.
  const admin = { authorization: `Bearer ${await server.token("acme")}`, "content-type": "application/json" };
  const group = await (await fetch(`${server.base}/v1/groups`, { method: "POST", headers: admin, body: '{"name":"Sales"}' })).json();
  const vendorToken = await sign(
    { iss: VENDOR.VENDOR_ISSUER, aud: VENDOR.VENDOR_AUDIENCE, sub: "e2e", scope: "admin", exp: Math.floor(Date.now() / 1000) + 3600 },
    VENDOR.VENDOR_DEV_SECRET,
    "HS256",
  );
  // curl as typed, with each answer's status written down beside what was called.
  const script = [
    "set -euo pipefail",
    `curl() { local out; out=$(command curl -sS -w '\\n@@%{http_code}' "$@"); printf '%s' "\${out%$'\\n'@@*}"; printf '%s %s\\n' "\${out##*@@}" "$*" >> "${statusLog}"; }`,
    ...examples,
  ].join("\n");
  const output = execFileSync("bash", ["-c", script], {
    cwd: ROOT,
    env: { ...process.env, GROUP: group.result.group_id, VENDOR_TOKEN: vendorToken },
    encoding: "utf8",
  });
  const calls = readFileSync(statusLog, "utf8").trim().split("\n");
  assert.ok(calls.length >= 10, `curl calls run: ${calls.length}\n${output}`);
  const wrong = calls.filter((line) => !/^(2\d\d|409) /.test(line) && !STATE_ANSWERS.some((answer) => answer.test(line)));
  assert.deepEqual(wrong, [], `examples that failed:\n${wrong.join("\n")}\n\noutput:\n${output}`);
});
