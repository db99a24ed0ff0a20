// Which public surface a path belongs to: named in the request log and, as the source of
// a change, in the change stream.
const ANALYTICS = new Set([
  "/api/group",
  "/group",
  "/v1/batch",
  "/v1/group",
  "/v1/identify",
  "/v1/track",
  "/v1/page",
  "/v1/screen",
  "/v1/alias",
  // analytics.js's one-letter paths, and RudderStack's beacon.
  ...["/v1/b", "/v1/g", "/v1/i", "/v1/t", "/v1/p", "/v1/s", "/v1/a"],
  "/beacon/v1/batch",
  // Segment's tracking pixel.
  ...["group", "identify", "track", "page", "screen", "alias"].map((type) => `/v1/pixel/${type}`),
]);

const SURFACES: [string, string][] = [
  ["/scim/", "scim"],
  ["/resources/groups/", "seed-001"],
  ["/kaizala/", "conversation-groups"],
  ["/hooks/", "hooks"],
  ["/v1/", "native"],
];

export const surfaceOf = (path: string) =>
  ANALYTICS.has(path.replace(/\/$/, "")) ? "analytics" : (SURFACES.find(([prefix]) => path.startsWith(prefix))?.[1] ?? "other");

/**
 * The source of a request's changes: its surface, or "console" for the native API called by
 * the console (which says so in x-edge-groups-client). A label of the caller's own events only.
 */
export const sourceOf = (path: string, client: string | undefined) => {
  const surface = surfaceOf(path);
  return surface === "native" && client === "console" ? "console" : surface;
};
