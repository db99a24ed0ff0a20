// The public API, called with the signed-in token. A 401 ends the session.
const TOKEN_KEY = "edge-groups-token";

export const session = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: { field?: string; message: string }[] = [],
  ) {
    super(message);
  }
  /** The error in words, with the fields it names. */
  get text() {
    const more = this.details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).filter((d) => d !== this.message);
    return [this.message, ...more].join(" — ");
  }
}

/** D1's bookmark of the newest answer: sent back on every call, so a page read after a change shows it (read-your-writes). */
const BOOKMARK = "x-d1-bookmark";
let bookmark: string | null = null;
const CLIENT = "x-edge-groups-client";

// biome-ignore lint/suspicious/noExplicitAny: each page types what it reads (wire.ts) until the types are generated from /openapi.json
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${session.get() ?? ""}`,
      // The change stream names the console as the source of what it changes.
      [CLIENT]: "console",
      ...(bookmark ? { [BOOKMARK]: bookmark } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  bookmark = res.headers.get(BOOKMARK) ?? bookmark;
  if (res.status === 401) {
    session.clear();
    location.hash = "#/sign-in";
    throw new ApiError(401, "your session has ended: sign in again");
  }
  if (res.status === 204) return undefined as T;
  const json = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, json?.error?.message ?? `the server answered ${res.status}`, json?.error?.details ?? []);
  return json as T;
}

export const errorText = (e: unknown) => (e instanceof ApiError ? e.text : e instanceof Error ? e.message : String(e));
