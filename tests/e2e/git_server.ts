// A Git repository served over https on the real node's bridge, through
// `git http-backend` (the smart protocol, so shallow fetches work), with a
// certificate from the CA the local git image trusts.
import { join } from "node:path";
import { gitServingCert } from "../../localcluster/realnode/git_ca.ts";

export interface GitServer {
  /** https://<bridge address>:<port>/repo.git */
  url: string;
  /** The first commit (docs/guide.md = "v1"), also tagged v1. */
  firstCommit: string;
  close(): Promise<void>;
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args,
    cwd,
    env: {
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

/** Runs one request through git http-backend (CGI) and turns its output into a Response. */
async function cgi(root: string, req: Request): Promise<Response> {
  const url = new URL(req.url);
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

/** Serves a fresh repository on `address` (the real node's bridge gateway). */
export async function startGitServer(address: string): Promise<GitServer> {
  const root = await Deno.makeTempDir({ prefix: "kubetask-git-" });
  const firstCommit = await makeRepository(root);
  const tls = await gitServingCert(root, address);
  const server = Deno.serve({
    hostname: address,
    port: 0,
    cert: await Deno.readTextFile(tls.cert),
    key: await Deno.readTextFile(tls.key),
    onListen: () => {},
  }, (req) => cgi(root, req));
  return {
    url: `https://${address}:${server.addr.port}/repo.git`,
    firstCommit,
    close: async () => {
      await server.shutdown();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}
