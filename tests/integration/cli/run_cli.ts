// Runs the command line as a user would: a subprocess of main.ts, with the
// test cluster's kubeconfig in the environment.
import { repoRoot } from "../../../localcluster/paths.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function command(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "main.ts", ...args],
    cwd: repoRoot,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
}

export async function cli(...args: string[]): Promise<CliResult> {
  const out = await command(args).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A CLI process running in the background; its stderr is readable as it goes. */
export function cliInBackground(...args: string[]) {
  const child = command(args).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  const stdoutText = new Response(child.stdout).text();
  return {
    stderrSoFar: () => stderr,
    async done(): Promise<CliResult> {
      const [status, stdout] = await Promise.all([child.status, stdoutText, stderrDone]);
      return { code: status.code, stdout, stderr };
    },
    kill: (signal: Deno.Signal = "SIGTERM") => child.kill(signal),
  };
}
