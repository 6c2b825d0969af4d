// Git repositories served over https on the real node's bridge, through
// `git http-backend` (the smart protocol, so shallow fetches work), with a
// certificate from the CA the local images trust. Anyone may fetch; a push
// needs the server's token as the password (Basic auth), as a Git host's
// access token works.
import { join } from "node:path";
import { ensureGitCa, gitServingCert } from "./realnode/git_ca.ts";

export interface GitServer {
  /** https://<bridge address>:<port>/repo.git */
  url: string;
  /** The first commit of repo.git (docs/guide.md = "v1"), also tagged v1. */
  firstCommit: string;
  /** The password a push must carry. */
  token: string;
  /** A new repository `name`.git whose main branch has one commit with `files`; its URL. */
  addRepository(name: string, files: Record<string, string>): Promise<string>;
  /** Clones `branch` of `name`.git over https, as a user would; the clone's folder. */
  clone(name: string, branch: string): Promise<string>;
  close(): Promise<void>;
}

export function git(cwd: string, ...args: string[]): Promise<string> {
  return gitWith({}, cwd, ...args);
}

async function gitWith(env: Record<string, string>, cwd: string, ...args: string[]) {
  const out = await new Deno.Command("git", {
    args,
    cwd,
    env: {
      ...env,
      GIT_AUTHOR_NAME: "e2e",
      GIT_AUTHOR_EMAIL: "e2e@kubetask.test",
      GIT_COMMITTER_NAME: "e2e",
      GIT_COMMITTER_EMAIL: "e2e@kubetask.test",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * repo.git: main has docs/guide.md "v1" (tagged v1) then "v2"; branch
 * feature has "feature". Every commit also has README.md at the top.
 */
async function makeRepository(root: string): Promise<string> {
  const bare = join(root, "repo.git");
  await git(root, "init", "-q", "--bare", "-b", "main", bare);
  await git(bare, "config", "uploadpack.allowAnySHA1InWant", "true");
  const work = join(root, "work");
  await git(root, "init", "-q", "-b", "main", work);
  const write = async (text: string) => {
    await Deno.mkdir(join(work, "docs"), { recursive: true });
    await Deno.writeTextFile(join(work, "docs", "guide.md"), `${text}\n`);
    await Deno.writeTextFile(join(work, "README.md"), "top level\n");
    await git(work, "add", ".");
    await git(work, "commit", "-q", "-m", text);
  };
  await write("v1");
  const first = await git(work, "rev-parse", "HEAD");
  await git(work, "tag", "v1");
  await write("v2");
  await git(work, "checkout", "-q", "-b", "feature", first);
  await write("feature");
  await git(work, "push", "-q", bare, "main", "feature", "v1");
  return first;
}

/** A push (receive-pack) asks for the token; fetches are open. */
function authorized(req: Request, url: URL, token: string): string | undefined | false {
  const push = url.pathname.endsWith("/git-receive-pack") ||
    url.searchParams.get("service") === "git-receive-pack";
  if (!push) return undefined;
  const auth = req.headers.get("authorization") ?? "";
  if (!auth.startsWith("Basic ")) return false;
  const [user, ...password] = atob(auth.slice(6)).split(":");
  return password.join(":") === token ? user || "token" : false;
}

/** Runs one request through git http-backend (CGI) and turns its output into a Response. */
async function cgi(root: string, req: Request, token: string): Promise<Response> {
  const url = new URL(req.url);
  const user = authorized(req, url, token);
  if (user === false) {
    return new Response("push needs the token\n", {
      status: 401,
      headers: { "www-authenticate": 'Basic realm="kubetask-git"' },
    });
  }
  const child = new Deno.Command("git", {
    args: ["http-backend"],
    env: {
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: req.method,
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers.get("content-type") ?? "",
      HTTP_CONTENT_ENCODING: req.headers.get("content-encoding") ?? "",
      GIT_PROTOCOL: req.headers.get("git-protocol") ?? "",
      REMOTE_ADDR: "127.0.0.1",
      // http-backend allows receive-pack only for an authenticated user.
      ...(user ? { REMOTE_USER: user } : {}),
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const body = new Uint8Array(await req.arrayBuffer());
  const writer = child.stdin.getWriter();
  await writer.write(body);
  await writer.close();
  const { stdout } = await child.output();
  // Headers end at the first blank line (CRLF or LF).
  let split = -1;
  for (let i = 0; i < stdout.length - 1; i++) {
    if (stdout[i] === 10 && stdout[i + 1] === 10) {
      split = i;
      break;
    }
    if (stdout[i] === 13 && stdout[i + 1] === 10 && stdout[i + 2] === 13 && stdout[i + 3] === 10) {
      split = i;
      break;
    }
  }
  const headText = new TextDecoder().decode(stdout.slice(0, split));
  const rest = stdout.slice(split + (stdout[split] === 13 ? 4 : 2));
  const headers = new Headers();
  let status = 200;
  for (const line of headText.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]);
    else headers.append(name, value);
  }
  return new Response(rest, { status, headers });
}

/** `name`.git with one commit on main holding `files` (a path ending in .sh is executable). */
async function makeProject(root: string, name: string, files: Record<string, string>) {
  const bare = join(root, `${name}.git`);
  await git(root, "init", "-q", "--bare", "-b", "main", bare);
  const work = await Deno.makeTempDir({ dir: root, prefix: `${name}-work-` });
  await git(work, "init", "-q", "-b", "main");
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(work, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(work, path), text, {
      mode: path.endsWith(".sh") ? 0o755 : 0o644,
    });
  }
  await git(work, "add", ".");
  await git(work, "commit", "-q", "-m", "Initial commit");
  await git(work, "push", "-q", bare, "main");
  await Deno.remove(work, { recursive: true });
}

/** Serves fresh repositories on `address` (the real node's bridge gateway). */
export async function startGitServer(address: string): Promise<GitServer> {
  const root = await Deno.makeTempDir({ prefix: "kubetask-git-" });
  const firstCommit = await makeRepository(root);
  const tls = await gitServingCert(root, address);
  const token = `kt-${crypto.randomUUID()}`;
  const server = Deno.serve({
    hostname: address,
    port: 0,
    cert: await Deno.readTextFile(tls.cert),
    key: await Deno.readTextFile(tls.key),
    onListen: () => {},
  }, (req) => cgi(root, req, token));
  const base = `https://${address}:${server.addr.port}`;
  return {
    url: `${base}/repo.git`,
    firstCommit,
    token,
    addRepository: async (name, files) => {
      await makeProject(root, name, files);
      return `${base}/${name}.git`;
    },
    clone: async (name, branch) => {
      const dir = await Deno.makeTempDir({ dir: root, prefix: "clone-" });
      // GIT_SSL_CAINFO, if the environment sets it, would win over http.sslCAInfo.
      const ca = (await ensureGitCa()).cert;
      await gitWith(
        { GIT_SSL_CAINFO: ca },
        dir,
        "clone",
        "-q",
        "-b",
        branch,
        `${base}/${name}.git`,
        ".",
      );
      return dir;
    },
    close: async () => {
      await server.shutdown();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}
