// Segment's tracking pixel (GET /v1/pixel/group?data=..., and identify, track, page, screen,
// alias): for places that can only show an image, such as an email or an ad. The call,
// its writeKey included, is the ?data= query's JSON (usually base64). A recorded call answers
// a 1x1 transparent GIF; a refused one answers its error as the other Segment routes do (where
// Segment answers the GIF whatever happened), so a pixel that does nothing can be told.
import { Hono } from "hono";
import { authenticate, requireScope } from "../../auth/middleware";
import { bytesOfBase64 } from "../../core/shared/base64";
import { TRACKING_SCOPES } from "../../core/shared/scopes";
import type { AppEnv } from "../../http/app-env";
import { onlyMethods } from "../../http/unknown-route";
import { pixelKeyTracksOnly, pixelWriteKey } from "./auth";
import { readPixelData } from "./body";
import { recordEvents, segmentError, TYPES } from "./segment";

/** A transparent 1x1 GIF. */
const GIF = bytesOfBase64("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7");

/** The paths, under /v1, one per call type. */
export const PIXEL_PATHS = TYPES.map((type) => ({ type, path: `/pixel/${type}` }));

/** Mounted at /v1 beside the Segment routes. */
export function pixelRoutes() {
  const app = new Hono<AppEnv>();
  const credential = authenticate({ source: pixelWriteKey, budget: "analytics" });
  app.onError((err, c) => segmentError(c, err));
  for (const { type, path } of PIXEL_PATHS) {
    app.get(path, credential, pixelKeyTracksOnly, requireScope(...TRACKING_SCOPES), async (c) => {
      const call = { ...readPixelData(c), type };
      // HEAD (a link checker, a mail scanner) is answered as GET is, but records nothing: only showing the image does.
      // Dropped events are logged with why, as on the other Segment routes; an image has nowhere to say it.
      if (c.req.method !== "HEAD") await recordEvents(c, [call]);
      // An image a cache or a mail proxy keeps would record the call once only.
      return c.body(GIF, 200, { "content-type": "image/gif", "cache-control": "no-store, private" });
    });
    app.all(path, credential, (c) => {
      throw onlyMethods(c, "GET, HEAD");
    });
  }
  return app;
}
