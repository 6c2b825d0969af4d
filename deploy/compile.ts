// `deno task compile`: builds the operator into one self-contained binary,
// dist/kubetask, granted only what it needs at run time.
//
// `deno compile` fetches the matching `denort` runtime while building. Where
// that download is impossible the build fails loudly and leaves no binary
// behind: a missing artifact is better than one that only looks right.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  GATEWAY_DATA_DIR,
  RUNTIME_PERMISSIONS,
  RUNTIME_V8_FLAGS,
} from "../controllers/runtime/runtime_flags.ts";

// The permissions and V8 flags compiled in (documented where they are defined,
// beside what the image built from the bundle runs with).
export { GATEWAY_DATA_DIR, RUNTIME_PERMISSIONS, RUNTIME_V8_FLAGS };

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
