import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { generateKeyPairSync } from "node:crypto";
import { defineConfig } from "vitest/config";

// A signing key pair for the production auth path: the public half is served as a JWKS
// at JWKS_URL by the outbound handler below, the private half signs test tokens.
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const JWKS_URL = "https://issuer.test/.well-known/jwks.json";
const publicJwk = { ...publicKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256", use: "sig" };
const privateJwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256" };

// Tests run inside workerd against real local D1, KV and Durable Objects, configured
// from wrangler.toml; the migrations are applied by test/apply-migrations.ts.
export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: "./wrangler.toml" },
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
          TEST_JWKS_URL: JWKS_URL,
          TEST_PRIVATE_JWK: JSON.stringify(privateJwk),
        },
        outboundService: async (request: Request) =>
          request.url === JWKS_URL ? Response.json({ keys: [publicJwk] }) : new Response("no network in tests", { status: 502 }),
      },
    })),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
