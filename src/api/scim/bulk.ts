// /scim/v2/Bulk (RFC 7644 §3.7): each operation is run through this same SCIM app, in
// order, with bulkId references resolved to the ids the earlier operations created.
import { z } from "zod";
import { CoreError } from "../../core/shared/errors";
import { SCIM, SCIM_BASE, type ScimApp, scimJson } from "./app";
import { BULK_MAX_OPERATIONS } from "./discovery";
import { valid } from "./schemas";

export const bulkBody = z.looseObject({
  failOnErrors: z.number().int().min(1).optional(),
  Operations: z
    .array(
      z.looseObject({
        method: z
          .string()
          .transform((m) => m.toUpperCase())
          .pipe(z.enum(["POST", "PUT", "PATCH", "DELETE"])),
        path: z.string().regex(/^\/(Users|Groups)(\/[^/]+)?$/, "path must be /Users, /Groups or one of them by id"),
        bulkId: z.string().max(200).optional(),
        version: z.string().max(100).optional(),
        data: z.unknown().optional(),
      }),
    )
    .min(1)
    // A bulkId names one new resource for the references after it (RFC 7644 §3.7: unique within a request).
    .superRefine((ops, ctx) => {
      const seen = new Set<string>();
      ops.forEach((op, i) => {
        if (op.bulkId === undefined) return;
        if (seen.has(op.bulkId)) {
          ctx.addIssue({
            code: "custom",
            path: [i, "bulkId"],
            message: `bulkId '${op.bulkId}' is given to more than one operation; each must be unique`,
          });
        }
        seen.add(op.bulkId);
      });
    }),
});

const REFERENCE = /bulkId:([A-Za-z0-9._~-]+)/g;

export function registerBulkRoute(app: ScimApp) {
  app.post(
    "/Bulk",
    async (c, next) => {
      // tooMany is checked before the per-operation validation, as RFC 7644 §3.7.4 asks.
      const body = (await c.req.json().catch(() => undefined)) as { Operations?: unknown[] } | undefined;
      if (Array.isArray(body?.Operations) && body.Operations.length > BULK_MAX_OPERATIONS) {
        throw new CoreError("payload_too_large", `a bulk request may carry at most ${BULK_MAX_OPERATIONS} operations`, [
          { message: "too many operations", scimType: "tooMany" },
        ]);
      }
      await next();
    },
    valid("json", bulkBody),
    async (c) => {
      const { Operations, failOnErrors } = c.req.valid("json");
      const created = new Map<string, string>();
      const results: Record<string, unknown>[] = [];
      let errors = 0;
      for (const op of Operations) {
        if (failOnErrors !== undefined && errors >= failOnErrors) break;
        const unresolved: string[] = [];
        const resolve = (text: string) =>
          text.replace(REFERENCE, (ref, id: string) => {
            const made = created.get(id);
            if (made === undefined) unresolved.push(id);
            return made ?? ref;
          });
        const path = resolve(op.path);
        const data = op.data === undefined ? undefined : resolve(JSON.stringify(op.data));
        const entry: Record<string, unknown> = { method: op.method, ...(op.bulkId ? { bulkId: op.bulkId } : {}) };
        if (unresolved.length > 0) {
          errors += 1;
          results.push({
            ...entry,
            status: "409",
            response: {
              schemas: [SCIM.error],
              status: "409",
              scimType: "invalidValue",
              detail: `unresolved bulkId reference ${unresolved.map((u) => `'${u}'`).join(", ")}`,
            },
          });
          continue;
        }
        const headers: Record<string, string> = {
          authorization: c.req.header("authorization") ?? "",
          "content-type": "application/scim+json",
        };
        if (op.version) headers["if-match"] = op.version;
        const url = `${new URL(c.req.url).origin}${SCIM_BASE}${path}`;
        const res = await app.fetch(new Request(url, { method: op.method, headers, body: data }), c.env, c.executionCtx);
        const text = await res.text();
        const json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        if (res.status >= 400) {
          errors += 1;
          results.push({ ...entry, status: String(res.status), response: json });
          continue;
        }
        const id = (json?.id as string | undefined) ?? path.split("/")[2];
        if (op.method === "POST" && op.bulkId && id) created.set(op.bulkId, id);
        const resource = path.split("/")[1];
        results.push({
          ...entry,
          ...(id ? { location: `${new URL(c.req.url).origin}${SCIM_BASE}/${resource}/${id}` } : {}),
          ...(res.headers.get("etag") ? { version: res.headers.get("etag") } : {}),
          status: String(res.status),
        });
      }
      return scimJson(c, { schemas: [SCIM.bulkResponse], Operations: results });
    },
  );
}
