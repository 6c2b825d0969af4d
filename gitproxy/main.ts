// `kubetask git-proxy`: a hidden subcommand run as the agent pod's native
// sidecar. Arguments: --port N, --secret-dir DIR, then one or more
// --repository URL (https only), in Context order.
import { gitProxyHandler, secretFolderCredentials } from "./proxy.ts";

export interface GitProxyArgs {
  port: number;
  secretDir: string;
  repositories: string[];
}

export function parseGitProxyArgs(args: readonly string[]): GitProxyArgs {
  let port = 0;
  let secretDir = "";
  const repositories: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--port") port = Number(value);
    else if (flag === "--secret-dir") secretDir = value;
    else if (flag === "--repository") {
      const url = new URL(value);
      if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash) {
        throw new Error(`--repository must be a plain https URL: ${value}`);
      }
      repositories.push(value);
    } else throw new Error(`unknown flag ${flag}`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error("--port must be 1-65535");
  }
  if (!secretDir) throw new Error("--secret-dir is required");
  if (!repositories.length) throw new Error("at least one --repository");
  return { port, secretDir, repositories };
}

export async function gitProxyMain(argv: string[]): Promise<number> {
  const args = parseGitProxyArgs(argv);
  const listen = `127.0.0.1:${args.port}`;
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: args.port,
      onListen: () => console.error(`git proxy on ${listen}`),
    },
    gitProxyHandler({
      listen,
      repositories: args.repositories,
      credentials: secretFolderCredentials(args.secretDir),
    }),
  );
  await server.finished;
  return 0;
}
