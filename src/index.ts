import { buildApp } from "./app";
import { canonicalScimRequest } from "./api/scim/canonical-path";
import type { Env } from "./env";

export { GroupCoordinator } from "./coordinator/group-coordinator";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(canonicalScimRequest(request), env, ctx),
} satisfies ExportedHandler<Env>;
