import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      TEST_CONTROL_MIGRATIONS: D1Migration[];
      TEST_JWKS_URL: string;
      TEST_PRIVATE_JWK: string;
      TEST_ROTATED_PRIVATE_JWK: string;
      TEST_ROTATING_JWKS_URL: string;
      TEST_DOWN_JWKS_URL: string;
      TEST_FLAKY_JWKS_URL: string;
    }
  }
}
