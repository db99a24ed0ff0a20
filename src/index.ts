import { canonicalScimRequest } from "./api/scim/canonical-path";
import { buildApp } from "./app";
import { purgeExpiredEvents } from "./core/events/retention";
import { purgeIdempotencyKeys } from "./core/idempotency";
import { database } from "./core/shared/context";
import { purgeSeenMessages } from "./core/tracking";
import type { Env } from "./env";

export { ClaimsWriter } from "./coordinator/claims-writer";
export { GroupCoordinator } from "./coordinator/group-coordinator";
export { RateLimiter } from "./coordinator/rate-limiter";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(canonicalScimRequest(request), env, ctx),
  // Daily (wrangler.toml [triggers]): forget analytics messageIds, idempotency keys and events past their retention.
  scheduled: async (_controller, env, _ctx) => {
    const db = database(env.DB);
    const purged = await purgeSeenMessages(db);
    const keys = await purgeIdempotencyKeys(db);
    const events = await purgeExpiredEvents(db);
    console.log(JSON.stringify({ msg: "purged seen messageIds, idempotency keys and events", purged, keys, events }));
  },
} satisfies ExportedHandler<Env>;
