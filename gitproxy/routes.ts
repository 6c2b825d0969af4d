// Which requests the Git credential proxy forwards, and where: a pure
// allow-list. Each of the Task's Git repositories is served at /<index>; only
// the three smart-HTTP requests are known under it, and the upstream URL is
// built from the configured repository URL and a fixed suffix, never from the
// request's path, so no request text (`..`, encoded slashes, another host)
// can reach another path or host upstream.

/** The smart-HTTP requests git makes for a fetch or a push. */
const SMART_HTTP = [
  { method: "GET", path: "/info/refs", service: "git-upload-pack" },
  { method: "GET", path: "/info/refs", service: "git-receive-pack" },
  { method: "POST", path: "/git-upload-pack" },
  { method: "POST", path: "/git-receive-pack" },
] as const;

export type Route =
  | { upstream: string; index: number }
  | { status: 400 | 403 | 404 | 405; reason: string };

/** The proxy's own URL for the index-th repository (what git's insteadOf points at). */
export function proxyRepositoryUrl(port: number, index: number): string {
  return `http://127.0.0.1:${port}/${index}`;
}

/**
 * Where a request goes: `target` is the raw request target as received,
 * `host` its Host header, `listen` the proxy's own host:port.
 */
export function route(
  method: string,
  target: string,
  host: string | null,
  listen: string,
  repositories: readonly string[],
): Route {
  // Origin-form only: an absolute-form target ("http://other/...") or a
  // request addressed to another Host is refused, not proxied.
  if (!target.startsWith("/")) return { status: 400, reason: "only origin-form request targets" };
  if (host !== listen) return { status: 400, reason: `Host must be ${listen}` };
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  // Exact matches below; refusing these early gives clearer reasons.
  if (path.includes("%") || path.includes("..") || path.includes("//") || path.includes("\\")) {
    return { status: 400, reason: "encoded or relative path segments are refused" };
  }
  const match = /^\/(0|[1-9][0-9]{0,2})(\/.*)$/.exec(path);
  const index = match ? Number(match[1]) : -1;
  if (!match || index >= repositories.length) {
    return { status: 404, reason: "not one of this Task's repositories" };
  }
  const suffix = match[2];
  const params = new URLSearchParams(query);
  const known = SMART_HTTP.find((r) =>
    r.path === suffix &&
    ("service" in r
      ? [...params.keys()].length === 1 && params.get("service") === r.service
      : query === "")
  );
  if (!known) return { status: 404, reason: "only git smart-HTTP fetch and push requests" };
  if (known.method !== method) return { status: 405, reason: `${suffix} takes ${known.method}` };
  const base = repositories[index].replace(/\/+$/, "");
  return {
    index,
    upstream: "service" in known
      ? `${base}${known.path}?service=${known.service}`
      : `${base}${known.path}`,
  };
}
