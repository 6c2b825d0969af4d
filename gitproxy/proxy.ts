// The Git credential proxy: plain HTTP on 127.0.0.1 inside the agent pod,
// forwarding the routes.ts allow-list to the real https repository and adding
// the credentials, which only this process can read (the Secret is mounted in
// its container alone). Bodies stream both ways; redirects are not followed.
import { route } from "./routes.ts";

export interface Credentials {
  username: string;
  password: string;
}

export interface GitProxyOptions {
  /** host:port the proxy listens on; a request for any other Host is refused. */
  listen: string;
  /** The Task's Git repository URLs, in Context order (served at /0, /1, ...). */
  repositories: readonly string[];
  /**
   * The index-th repository's credentials, read at each request so a rotated
   * Secret is used without a restart; null: none (a public repository).
   */
  credentials: (index: number) => Promise<Credentials | null>;
  fetch?: typeof fetch;
  log?: (line: string) => void;
}

/** Request headers git sends that the upstream needs; nothing else passes. */
const FORWARDED_REQUEST = [
  "accept",
  "content-type",
  "content-encoding",
  "git-protocol",
  "user-agent",
];
const FORWARDED_RESPONSE = [
  "content-type",
  "content-encoding",
  "cache-control",
  "expires",
  "pragma",
];

function pick(from: Headers, names: readonly string[]): Headers {
  const out = new Headers();
  for (const name of names) {
    const value = from.get(name);
    if (value !== null) out.set(name, value);
  }
  return out;
}

function refuse(status: number, reason: string): Response {
  return new Response(`kubetask git proxy: ${reason}\n`, { status });
}

export function gitProxyHandler(options: GitProxyOptions): (req: Request) => Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  const log = options.log ?? ((line: string) => console.error(line));
  const origin = `http://${options.listen}`;
  return async (req: Request) => {
    // Deno gives the target as a full URL; one for another origin was an
    // absolute-form request or another Host.
    const target = req.url.startsWith(`${origin}/`) ? req.url.slice(origin.length) : req.url;
    const r = route(
      req.method,
      target,
      req.headers.get("host"),
      options.listen,
      options.repositories,
    );
    if ("status" in r) {
      log(`refused ${req.method} ${target}: ${r.reason}`);
      return refuse(r.status, r.reason);
    }
    const headers = pick(req.headers, FORWARDED_REQUEST);
    const creds = await options.credentials(r.index);
    if (creds) {
      const basic = btoa(`${creds.username || "x-access-token"}:${creds.password}`);
      headers.set("authorization", `Basic ${basic}`);
    }
    let upstream: Response;
    try {
      upstream = await doFetch(r.upstream, {
        method: req.method,
        headers,
        body: req.method === "POST" ? req.body : undefined,
        redirect: "manual",
      });
    } catch (err) {
      log(`upstream ${r.upstream}: ${(err as Error).message}`);
      return refuse(502, "upstream unreachable");
    }
    if (upstream.status >= 300 && upstream.status < 400) {
      await upstream.body?.cancel();
      log(`refused a redirect (${upstream.status}) from ${r.upstream}`);
      return refuse(
        502,
        `upstream answered a redirect (${upstream.status}); redirects are not followed`,
      );
    }
    // 401/403 pass through so git reports them; the upstream's challenge does
    // not, or git would prompt for credentials the agent does not have.
    return new Response(upstream.body, {
      status: upstream.status,
      headers: pick(upstream.headers, FORWARDED_RESPONSE),
    });
  };
}

/**
 * Username and password of the index-th repository from `dir`/<index>/ (the
 * mounted Secrets, one folder per repository; a missing file: none).
 */
export function secretFolderCredentials(
  dir: string,
): (index: number) => Promise<Credentials | null> {
  const read = async (index: number, name: string) => {
    try {
      return (await Deno.readTextFile(`${dir}/${index}/${name}`)).trim();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  };
  return async (index) => {
    const password = await read(index, "password");
    return password === null ? null : { username: (await read(index, "username")) ?? "", password };
  };
}
