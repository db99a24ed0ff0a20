// zod validation for the plain-Hono surfaces: a failure is a CoreError "invalid" naming
// each field, which the surface's onError shapes into its own error format.
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { z } from "zod";
import type { ErrorDetail } from "../core/shared/errors";
import { invalidInput } from "./errors";

/** decorate: extra fields for each detail (SCIM adds its scimType). */
export const valid = <T extends z.ZodType, K extends keyof ValidationTargets>(
  target: K,
  schema: T,
  decorate?: (target: K) => Partial<ErrorDetail>,
) =>
  zValidator(target, schema, (result) => {
    if (result.success) return;
    const e = invalidInput(result.error, target === "json" ? "request body" : target);
    if (decorate) for (const d of e.details) Object.assign(d, decorate(target));
    throw e;
  });
