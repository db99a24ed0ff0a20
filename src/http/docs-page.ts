// /docs: Swagger UI over /openapi.json, behind Hono's secureHeaders. The page's own inline
// start-up script runs by a per-response nonce; Swagger UI's pinned assets come from one CDN.
import { SwaggerUI } from "@hono/swagger-ui";
import type { MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./app-env";

export const SWAGGER_UI_VERSION = "5.35.0";
const CDN = "https://cdn.jsdelivr.net";

export const docsHeaders: MiddlewareHandler<AppEnv> = secureHeaders({
  xFrameOptions: "DENY",
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: [NONCE, CDN],
    styleSrc: [CDN, "'unsafe-inline'"], // Swagger UI sets style attributes as it renders
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    fontSrc: [CDN],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
});

/** The Swagger UI page, with the nonce secureHeaders chose on its inline script. */
export const docsPage: MiddlewareHandler<AppEnv> = async (c) => {
  const nonce = c.get("secureHeadersNonce") ?? "";
  const ui = SwaggerUI({ url: "/openapi.json", version: SWAGGER_UI_VERSION }).replace("<script>", `<script nonce="${nonce}">`);
  return c.html(`<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" /><title>edge-groups API</title></head>
  <body>${ui}</body>
</html>`);
};
