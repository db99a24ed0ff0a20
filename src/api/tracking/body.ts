// Request bodies of analytics SDKs: JSON, possibly gzipped whatever the Content-Type
// says (RudderStack's node SDK labels its gzip as x-www-form-urlencoded), at most 2 MB
// before and after decompression; and the tracking pixel's call, which travels in the URL.
import type { Context } from "hono";
import { textOfBase64 } from "../../core/shared/base64";
import { CoreError } from "../../core/shared/errors";
import { LIMITS } from "../../core/shared/validation";

const tooLarge = () => new CoreError("payload_too_large", `request body is larger than ${LIMITS.bodyBytes} bytes`);

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > LIMITS.bodyBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof CoreError) throw e;
    throw new CoreError("invalid", "request body starts like gzip but does not decompress");
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// One parse per request: the Segment routes read the body for its writeKey before the handler reads its events.
const parsed = new WeakMap<Request, Promise<unknown>>();

/** The body as parsed JSON; 413 over the limit, 400 when it is not JSON. */
export function readJsonBody(c: Context): Promise<unknown> {
  let body = parsed.get(c.req.raw);
  if (!body) {
    body = parseJsonBody(c);
    parsed.set(c.req.raw, body);
  }
  return body;
}

async function parseJsonBody(c: Context): Promise<unknown> {
  let bytes: Uint8Array = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.byteLength > LIMITS.bodyBytes) throw tooLarge();
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzip(bytes);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CoreError("invalid", "malformed JSON in request body");
  }
}

/** The longest ?data= a tracking pixel may carry (a URL is no place for more). */
export const PIXEL_DATA_MAX = 8_192;

/** A request's pixel call as read the first time (its credential, the credential's rule and the route each ask for it). */
const pixelCalls = new WeakMap<Request, Record<string, unknown> | CoreError>();

/**
 * A tracking pixel's call: ?data= holds its JSON, base64-encoded (standard or URL-safe, padded
 * or not; a "+" the query turned into a space is put back) or as it is. 400 when absent, too
 * long, or not a JSON object.
 */
export function readPixelData(c: Context): Record<string, unknown> {
  let call = pixelCalls.get(c.req.raw);
  if (call === undefined) {
    try {
      call = pixelCall(c.req.query("data"));
    } catch (e) {
      if (!(e instanceof CoreError)) throw e;
      call = e;
    }
    pixelCalls.set(c.req.raw, call);
  }
  if (call instanceof CoreError) throw call;
  return call;
}

function pixelCall(raw: string | undefined): Record<string, unknown> {
  if (!raw) throw new CoreError("invalid", "the pixel carries no call: send it as ?data=<base64 of its JSON>");
  if (raw.length > PIXEL_DATA_MAX) throw new CoreError("invalid", `?data= is longer than ${PIXEL_DATA_MAX} characters`);
  let call: unknown;
  try {
    call = JSON.parse(raw.trimStart().startsWith("{") ? raw : textOfBase64(raw.trim().replaceAll(" ", "+")));
  } catch {
    throw new CoreError("invalid", "?data= is neither base64 of JSON nor JSON");
  }
  if (!call || typeof call !== "object" || Array.isArray(call)) throw new CoreError("invalid", "?data= must hold one call, a JSON object");
  return call as Record<string, unknown>;
}
