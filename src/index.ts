import { buildApp } from "./app";

export { GroupCoordinator } from "./coordinator/group-coordinator";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<import("./env").Env>;
