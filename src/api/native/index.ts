import { registerApiKeyRoutes } from "./api-keys";
import { nativeApp, rejectUnknownRoutes } from "./app";
import { registerConfigRoutes } from "./config";
import { registerEventRoutes } from "./events";
import { registerGroupRoutes } from "./groups";
import { registerHierarchyRoutes } from "./hierarchy";
import { registerMemberRoutes } from "./members";
import { registerRoleRoutes } from "./roles";
import { registerRuleRoutes } from "./rules";
import { registerUserRoutes } from "./users";
import { registerWebhookRoutes } from "./webhooks";

/** The native API of seed 000, mounted at /v1. */
export function nativeRoutes() {
  const app = nativeApp();
  registerGroupRoutes(app);
  registerMemberRoutes(app);
  registerUserRoutes(app);
  registerConfigRoutes(app);
  registerRoleRoutes(app);
  registerRuleRoutes(app);
  registerHierarchyRoutes(app);
  registerApiKeyRoutes(app);
  registerEventRoutes(app);
  registerWebhookRoutes(app);
  rejectUnknownRoutes(app);
  return app;
}
