// Request bodies of analytics SDKs: JSON, possibly gzipped whatever the Content-Type
// says (RudderStack's node SDK labels its gzip as x-www-form-urlencoded), at most 2 MB
// before and after decompression.
import type { Context } from "hono";
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
