// Wire schemas of the native API-keys API.
import { z } from "@hono/zod-openapi";
import { KNOWN_SCOPES } from "../../core/shared/scopes";
import { displayNameSchema, idSchema } from "../../core/shared/validation";

export const keyIdParam = z.object({
  key_id: idSchema.openapi({ param: { name: "key_id", in: "path" }, example: "5e0c1d2f3a4b6c7d" }),
});

const scope = z.enum(KNOWN_SCOPES, { message: `must be one of ${KNOWN_SCOPES.join(", ")}` });

export const createKeyBody = z
  .object({
    name: displayNameSchema(200),
    scopes: z.array(scope).min(1, "must name at least one scope").max(KNOWN_SCOPES.length),
    expires_at: z.number().int().positive().optional().openapi({ description: "epoch seconds; absent: the key does not expire" }),
  })
  .strict()
  .openapi("CreateApiKey", { example: { name: "Okta SCIM", scopes: ["scim"] } });

export const apiKey = z
  .object({
    key_id: z.string(),
    name: z.string(),
    hint: z.string().openapi({ description: "the secret's first characters, to tell keys apart" }),
    scopes: z.array(z.string()),
    created_by: z.string(),
    created_at: z.number().int(),
    last_used_at: z.number().int().nullable().openapi({ description: "epoch seconds, recorded at most once a minute" }),
    expires_at: z.number().int().nullable(),
    revoked_at: z.number().int().nullable(),
  })
  .openapi("ApiKey");

export const createdKey = apiKey
  .extend({ secret: z.string().openapi({ description: "shown once: only its hash is kept" }) })
  .openapi("CreatedApiKey");
