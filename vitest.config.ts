import { generateKeyPairSync } from "node:crypto";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// A signing key pair for the production auth path: the public half is served as a JWKS
// at JWKS_URL by the outbound handler below, the private half signs test tokens.
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const JWKS_URL = "https://issuer.test/.well-known/jwks.json";
const publicJwk = { ...publicKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256", use: "sig" };
const privateJwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256" };
// A second pair the provider "rotates in": ROTATING_JWKS_URL serves only the first key on its
// first fetch and both after; DOWN_JWKS_URL always fails. Each counts its fetches.
const rotated = generateKeyPairSync("rsa", { modulusLength: 2048 });
const rotatedPublic = { ...rotated.publicKey.export({ format: "jwk" }), kid: "rotated-key", alg: "RS256", use: "sig" };
const rotatedPrivate = { ...rotated.privateKey.export({ format: "jwk" }), kid: "rotated-key", alg: "RS256" };
const ROTATING_JWKS_URL = "https://issuer.test/rotating/jwks.json";
const DOWN_JWKS_URL = "https://issuer.test/down/jwks.json";
// Answers its first fetch, then fails: an outage at the provider after keys were known.
const FLAKY_JWKS_URL = "https://issuer.test/flaky/jwks.json";
const fetches = { rotating: 0, down: 0, flaky: 0 };

// Webhook receivers at https://hooks.test/<behaviour>/<name>: ok answers 200, fail-twice
// answers 500 to the first two attempts of each webhook-id and then 200, down always 503,
// slow answers 200 after 12 s.
// GET https://hooks.test/received/<name> lists the attempts each name got.
type Attempt = { path: string; headers: Record<string, string>; body: string; status: number };
const received = new Map<string, Attempt[]>();

async function receiver(request: Request, url: URL): Promise<Response> {
  const [, behaviour, name] = url.pathname.split("/");
  if (request.method === "GET" && behaviour === "received") return Response.json(received.get(name!) ?? []);
  const attempts = received.get(name!) ?? [];
  received.set(name!, attempts);
  const id = request.headers.get("webhook-id");
  const earlier = attempts.filter((a) => a.headers["webhook-id"] === id).length;
  // slow: answers after the product's 10 s delivery timeout has given up on it.
  if (behaviour === "slow") await new Promise((r) => setTimeout(r, 12_000));
  const status = behaviour === "down" ? 503 : behaviour === "fail-twice" && earlier < 2 ? 500 : 200;
  attempts.push({ path: url.pathname, headers: Object.fromEntries(request.headers), body: await request.text(), status });
  return new Response(status === 200 ? "ok" : "no", { status });
}

async function outbound(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.host === "hooks.test") return receiver(request, url);
  if (request.url === JWKS_URL) return Response.json({ keys: [publicJwk] });
  if (request.url === ROTATING_JWKS_URL) {
    fetches.rotating += 1;
    return Response.json({ keys: fetches.rotating === 1 ? [publicJwk] : [publicJwk, rotatedPublic] });
  }
  if (request.url === FLAKY_JWKS_URL) {
    fetches.flaky += 1;
    return fetches.flaky === 1 ? Response.json({ keys: [publicJwk] }) : new Response("unavailable", { status: 503 });
  }
  if (request.url === DOWN_JWKS_URL) {
    fetches.down += 1;
    return new Response("unavailable", { status: 503 });
  }
  if (url.pathname === "/fetch-counts") return Response.json(fetches);
  return new Response("no network in tests", { status: 502 });
}

// Tests run inside workerd against real local D1, KV and Durable Objects, configured
// from wrangler.toml; the migrations are applied by test/apply-migrations.ts.
export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: "./wrangler.toml" },
      // The product's Worker and Durable Object behind bindings that enforce Cloudflare's
      // production limits, which the local runtime does not (test/limits/).
      main: "./test/limits/entry.ts",
      miniflare: {
        bindings: {
          AUTH_DEV_SECRET: "test-only-secret-0123456789abcdef",
          HOOK_SECRETS: JSON.stringify({ hooked: "hook-secret-for-tests" }),
          // Vendor tokens are on in the test pool (off by default elsewhere), so the tests
          // can show where they act and where they are refused.
          VENDOR_DEV_SECRET: "vendor-only-secret-for-tests-0123456789abcdef",
          VENDOR_ISSUER: "https://vendor.test/",
          VENDOR_AUDIENCE: "edge-groups-vendor",
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          TEST_CONTROL_MIGRATIONS: await readD1Migrations("./migrations-control"),
          REQUEST_LOG: "off", // test/request-log.test.ts turns it on where it looks at the lines
          TEST_JWKS_URL: JWKS_URL,
          TEST_PRIVATE_JWK: JSON.stringify(privateJwk),
          TEST_ROTATED_PRIVATE_JWK: JSON.stringify(rotatedPrivate),
          TEST_ROTATING_JWKS_URL: ROTATING_JWKS_URL,
          TEST_DOWN_JWKS_URL: DOWN_JWKS_URL,
          TEST_FLAKY_JWKS_URL: FLAKY_JWKS_URL,
          // Retries 1 s, 2 s, 4 s, ... apart, so a test sees a retried delivery land.
          WEBHOOK_RETRY_BASE_SECONDS: "1",
          // Moves wait out the directory's cache lifetime twice: short here, so a move takes moments.
          SHARD_DIRECTORY_TTL_MS: "300",
          // As on a deployment, whatever a developer's .dev.vars says.
          WEBHOOKS_ALLOW_LOCAL_HTTP: "false",
        },
        outboundService: (request: Request) => outbound(request),
        // AsyncLocalStorage, for the limits layer only (it tells a Durable Object's calls apart); the product uses none.
        compatibilityFlags: ["nodejs_als"],
      },
    })),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts", "./test/settle-alarms.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
