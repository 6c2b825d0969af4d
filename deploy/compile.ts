// `deno task compile`: builds the operator into one self-contained binary,
// dist/kubetask, granted only what it needs at run time.
//
// `deno compile` fetches the matching `denort` runtime while building. Where
// that download is impossible the build fails loudly and leaves no binary
// behind: a missing artifact is better than one that only looks right.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The one folder the binary may write: the model gateway's transcript volume (deploy/gateway/). */
export const GATEWAY_DATA_DIR = "/var/lib/kubetask-gateway";

/**
 * The operator talks to the apiserver and serves /metrics (net), reads the
 * in-cluster config from env and the service-account token or a kubeconfig
 * from disk (env, read), and runs itself once at start to resolve credentials
 * with client-node, which in turn may run a kubeconfig's exec plugin (run;
 * see controllers/runtime/access.ts). It never writes files. The same binary
 * run as `kubetask gateway` writes transcripts, below GATEWAY_DATA_DIR only.
 */
export const RUNTIME_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  `--allow-write=${GATEWAY_DATA_DIR}`,
] as const;

/**
 * V8 flags the operator runs with: compiled into the binary, and passed by
 * every `deno run` of main.ts (dev task, demo, tests, benchmark). Young
 * generation semi-spaces of 4 MiB instead of V8's default of up to 16 MiB:
 * measured on a burst of 300 Tasks, resident memory afterwards fell from ~118
 * to ~85 MiB with no measurable change in throughput. `--optimize-for-size`:
 * the heap grows less before a full collection, so garbage (large text read
 * live, list pages) does not pile up between collections: with 1,000 Tasks
 * of 200 KiB and 1,000 Contexts of 256 KiB the peak fell from 233 to 140 MiB,
 * and 10,000 Tasks cached from 153 to 121 MiB, with no slower burst seen
 * (README, Operating at scale).
 */
export const RUNTIME_V8_FLAGS = [
  "--v8-flags=--max-semi-space-size=4,--optimize-for-size",
] as const;

export const ENTRY_POINT = "main.ts";
export const OUTPUT = join("dist", "kubetask");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Arguments for `deno compile`; `target` cross-compiles (e.g. aarch64-unknown-linux-gnu). */
export function compileArgs(target?: string, entry = ENTRY_POINT, output = OUTPUT): string[] {
  return [
    "compile",
    ...RUNTIME_PERMISSIONS,
    ...RUNTIME_V8_FLAGS,
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    entry,
  ];
}

/** True when stderr says the runtime base binary could not be fetched. */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /denort|Setting up base binary/i.test(stderr);
}

function targetFromArgs(args: string[]): string | undefined {
  const i = args.indexOf("--target");
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith("--target="))?.slice("--target=".length);
}

export interface CompileOptions {
  /** Folder holding the entry point and deno.json; paths below are relative to it. */
  root: string;
  entry: string;
  output: string;
  target?: string;
  /** Where deno's own output goes (the terminal by default). */
  progress?: (chunk: Uint8Array) => Promise<unknown>;
}

/** Runs `deno compile`; returns the exit code and leaves no binary unless it is 0. */
export async function compile(opts: CompileOptions): Promise<{ code: number; message?: string }> {
  const output = join(opts.root, opts.output);
  const removeOutput = () => Deno.remove(output).catch(() => {});
  // A stale binary from an earlier build must never pass for this one.
  await removeOutput();
  await Deno.mkdir(dirname(output), { recursive: true });

  const child = new Deno.Command(Deno.execPath(), {
    args: compileArgs(opts.target, opts.entry, opts.output),
    cwd: opts.root,
    stdout: "null",
    stderr: "piped",
  }).spawn();

  // Show deno's progress as it happens and keep a copy to diagnose failures.
  const progress = opts.progress ?? ((chunk: Uint8Array) => Deno.stderr.write(chunk));
  let stderr = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk, { stream: true });
    await progress(chunk);
  }
  const { code } = await child.status;

  if (code !== 0) {
    await removeOutput();
    const message = isRuntimeDownloadFailure(stderr)
      ? "deno compile could not download the `denort` runtime it embeds into the binary " +
        "(this machine cannot reach Deno's release downloads). No binary was produced. " +
        "Build where that download works (e.g. the Dockerfile's build stage), or point " +
        "DENORT_BIN at a local denort of the same Deno version."
      : `deno compile exited with code ${code}; no binary was produced.`;
    return { code: code || 1, message };
  }

  const info = await Deno.stat(output).catch(() => undefined);
  if (!info?.isFile || info.size === 0) {
    await removeOutput();
    return {
      code: 1,
      message: `deno compile reported success but ${opts.output} is missing or empty.`,
    };
  }
  return { code: 0, message: `built ${opts.output} (${(info.size / 1e6).toFixed(1)} MB)` };
}

if (import.meta.main) {
  const result = await compile({
    root: repoRoot,
    entry: ENTRY_POINT,
    output: OUTPUT,
    target: targetFromArgs(Deno.args),
  });
  console.error(`\n[compile] ${result.code === 0 ? "" : "FAILED: "}${result.message}`);
  Deno.exit(result.code);
}
