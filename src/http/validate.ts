// zod validation for the plain-Hono surfaces: a failure is a CoreError "invalid" naming
// each field, which the surface's onError shapes into its own error format.
import { zValidator } from "@hono/zod-validator";
import type { HonoRequest, ValidationTargets } from "hono";
import type { z } from "zod";
import { CoreError, type ErrorDetail } from "../core/shared/errors";
import { assertJsonDepth } from "../core/shared/validation";
import { invalidInput, UNSUPPORTED_BODY } from "./errors";

/** What hono/validator reads as JSON (application/json, application/scim+json, a charset after it). */
const JSON_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/** A body sent as anything but JSON, which hono/validator would have validated as {} (curl -d without -H sends a form). */
async function sentAsOtherThanJson(req: HonoRequest) {
  const type = req.header("content-type");
  return type === undefined ? (await req.text()).length > 0 : !JSON_TYPE.test(type);
}

/**
 * decorate: extra fields for each detail (SCIM adds its scimType). A JSON body sent as something else is a 415, checked
 * before the result: validated as {}, it would be refused for lacking the fields the caller did send, or pass as a no-op.
 */
export const valid = <T extends z.ZodType, K extends keyof ValidationTargets>(
  target: K,
  schema: T,
  decorate?: (target: K) => Partial<ErrorDetail>,
) =>
  zValidator(target, schema, async (result, c) => {
    if (target === "json" && (await sentAsOtherThanJson(c.req))) throw new CoreError("unsupported_media_type", UNSUPPORTED_BODY);
    if (result.success) {
      if (target === "json") assertJsonDepth(result.data);
      return;
    }
    const e = invalidInput(result.error, target === "json" ? "request body" : target);
    if (decorate) for (const d of e.details) Object.assign(d, decorate(target));
    throw e;
  });
