// `kubetask git-proxy`: a hidden subcommand run as the agent pod's native
// sidecar. Arguments: --port N, --secret-dir DIR (the n-th repository's
// username and password in DIR/<n>/), then one or more --repository URL
// (https only), in Context order. `kubetask git-proxy probe --port N` is the
// sidecar's startup probe: it succeeds once the proxy accepts connections.
import { gitProxyHandler, secretFolderCredentials } from "./proxy.ts";

export interface GitProxyArgs {
  port: number;
  secretDir: string;
  repositories: string[];
}

function parsePort(value: string | undefined): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error("--port must be 1-65535");
  }
  return port;
}

export function parseGitProxyArgs(args: readonly string[]): GitProxyArgs {
  let port: string | undefined;
  let secretDir = "";
  const repositories: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--port") port = value;
    else if (flag === "--secret-dir") secretDir = value;
    else if (flag === "--repository") {
      const url = new URL(value);
      if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash) {
        throw new Error(`--repository must be a plain https URL: ${value}`);
      }
      repositories.push(value);
    } else throw new Error(`unknown flag ${flag}`);
  }
  const checked = parsePort(port);
  if (!secretDir) throw new Error("--secret-dir is required");
  if (!repositories.length) throw new Error("at least one --repository");
  return { port: checked, secretDir, repositories };
}

/** `probe --port N`: exit 0 once something listens on 127.0.0.1:N. */
async function probe(args: readonly string[]): Promise<number> {
  if (args.length !== 2 || args[0] !== "--port") throw new Error("usage: probe --port N");
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: parsePort(args[1]) })).close();
    return 0;
  } catch (err) {
    console.error(`git proxy not listening yet: ${(err as Error).message}`);
    return 1;
  }
}

export async function gitProxyMain(argv: string[]): Promise<number> {
  if (argv[0] === "probe") return await probe(argv.slice(1));
  const args = parseGitProxyArgs(argv);
  const listen = `127.0.0.1:${args.port}`;
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: args.port,
      onListen: () => console.error(`git proxy on ${listen} for ${args.repositories.join(" ")}`),
    },
    gitProxyHandler({
      listen,
      repositories: args.repositories,
      credentials: secretFolderCredentials(args.secretDir),
    }),
  );
  // The kubelet stops the sidecar with SIGTERM once the agent has ended: a clean exit.
  Deno.addSignalListener("SIGTERM", () => void server.shutdown());
  await server.finished;
  return 0;
}
