// The agent CLIs the images ship, pinned, and their packages from the npm
// registry: downloaded once with `npm pack` (npm checks each tarball against
// the registry's integrity), unpacked into the cache, reused after.
import { join } from "node:path";
import { cacheDir } from "../localcluster/paths.ts";

export type CliName = "claude-code";

interface CliPackage {
  version: string;
  /** The npm package holding the linux-x64 executable, and its path inside the package. */
  package: string;
  executable: string;
}

/** One version per CLI; each Dockerfile's ARG default says the same (a unit test checks). */
export const CLIS: Record<CliName, CliPackage> = {
  "claude-code": {
    version: "2.1.328",
    package: "@anthropic-ai/claude-code-linux-x64",
    executable: "claude",
  },
};

export interface InstalledCli {
  version: string;
  /** The unpacked package. */
  dir: string;
  executable: string;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** The pinned CLI, downloaded and unpacked on first use. */
export async function ensureCli(name: CliName): Promise<InstalledCli> {
  const cli = CLIS[name];
  const dir = join(cacheDir(), "npm", `${cli.package.replace(/[@/]/g, "_")}-${cli.version}`);
  const executable = join(dir, "package", cli.executable);
  if (await exists(executable)) return { version: cli.version, dir, executable };
  const work = `${dir}.partial`;
  await Deno.remove(work, { recursive: true }).catch(() => {});
  await Deno.mkdir(work, { recursive: true });
  console.error(`[agents] downloading ${cli.package}@${cli.version}`);
  await run("npm", ["pack", "--silent", `${cli.package}@${cli.version}`], work);
  const [tarball] = [...Deno.readDirSync(work)].filter((e) => e.name.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack ${cli.package}@${cli.version} left no tarball`);
  await run("tar", ["-xzf", tarball.name], work);
  await Deno.remove(join(work, tarball.name));
  await Deno.chmod(join(work, "package", cli.executable), 0o755);
  await Deno.rename(work, dir);
  return { version: cli.version, dir, executable };
}
