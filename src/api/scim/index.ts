import { unknownRoute } from "../../http/unknown-route";
import { scimApp } from "./app";
import { registerBulkRoute } from "./bulk";
import { registerDiscoveryRoutes } from "./discovery";
import { registerGroupRoutes } from "./groups";
import { registerUserRoutes } from "./users";

/** SCIM 2.0 at /scim/v2 (the app carries its base path, so Bulk can run operations through it). */
export function scimRoutes() {
  const app = scimApp();
  registerDiscoveryRoutes(app);
  registerUserRoutes(app);
  registerGroupRoutes(app);
  registerBulkRoute(app);
  app.all("*", (c) => {
    throw unknownRoute(app, c, `no SCIM endpoint ${c.req.method} ${c.req.path}`);
  });
  return app;
}
