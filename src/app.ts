import { OpenAPIHono } from "@hono/zod-openapi";
import { requestId } from "hono/request-id";
import { fronteggRoutes } from "./api/frontegg/routes";
import { oktaHookRoutes } from "./api/hooks/okta";
import { kaizalaRoutes } from "./api/kaizala/routes";
import { nativeRoutes } from "./api/native";
import { describeApi } from "./api/openapi";
import { scimRoutes } from "./api/scim";
import { beaconRoutes } from "./api/tracking/beacon";
import { seed002Event, seed003Event } from "./api/tracking/group-call-schemas";
import { groupCallRoutes } from "./api/tracking/group-calls";
import { pixelRoutes } from "./api/tracking/pixel";
import { segmentRoutes } from "./api/tracking/segment";
import { vendorRoutes } from "./api/vendor/shards";
import type { AppEnv } from "./http/app-env";
import { readYourWrites } from "./http/d1-session";
import { docsHeaders, docsPage } from "./http/docs-page";
import { retryAfterMove } from "./http/errors";
import { requestLog } from "./http/request-log";
import { dispatchWebhooks } from "./http/webhook-dispatch";

export function buildApp() {
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", requestId(), requestLog, readYourWrites, retryAfterMove, dispatchWebhooks);

  // The floor for benchmarks: answers without touching any binding.
  app.get("/healthz", (c) => c.json({ ok: true }));

  // Segment's /v1/batch, /v1/group, ... before the native /v1, whose catch-all answers unknown paths.
  app.route("/v1", segmentRoutes());
  app.route("/v1", pixelRoutes());
  app.route("/v1", nativeRoutes());
  app.route("/beacon/v1", beaconRoutes());
  app.route("/api/group", groupCallRoutes(seed002Event));
  app.route("/group", groupCallRoutes(seed003Event));
  app.route("/hooks/okta", oktaHookRoutes());
  app.route("/resources/groups", fronteggRoutes());
  app.route("/kaizala", kaizalaRoutes());
  app.route("/vendor", vendorRoutes());
  app.route("/", scimRoutes());

  // Public: the API description generated from the same zod schemas, and a page to read it.
  describeApi(app);
  app.get("/docs", docsHeaders, docsPage);
  return app;
}
