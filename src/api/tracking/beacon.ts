// RudderStack's beacon transport (its browser SDK's useBeacon option): navigator.sendBeacon
// posts a Segment batch to /beacon/v1/batch?writeKey=KEY as text/plain, with no header, so
// the write key travels in the URL; the page never reads the answer. Otherwise the batch is
// taken as POST /v1/batch takes it.
import { Hono } from "hono";
import { authenticate, requireScope } from "../../auth/middleware";
import { TRACKING_SCOPES } from "../../core/shared/scopes";
import type { AppEnv } from "../../http/app-env";
import { limitBody } from "../../http/middleware";
import { postOnly } from "../../http/unknown-route";
import { beaconKeyTracksOnly, beaconWriteKey } from "./auth";
import { browsers, recordBatch, segmentError } from "./segment";

/** Mounted at /beacon/v1. */
export function beaconRoutes() {
  const app = new Hono<AppEnv>();
  const credential = authenticate({ source: beaconWriteKey, budget: "analytics" });
  app.onError((err, c) => segmentError(c, err));
  app.post("/batch", browsers, limitBody(), credential, beaconKeyTracksOnly, requireScope(...TRACKING_SCOPES), recordBatch);
  app.all("/batch", browsers, credential, (c) => {
    throw postOnly(c);
  });
  return app;
}
