// The agent CLIs, pinned: each one's npm tarball is fetched once with
// `npm pack`, checked against the integrity npm reports, kept by that
// integrity under $KUBETASK_CACHE_DIR/npm/ and unpacked next to it. Used by
// the host-level CLI tests and to build the agent images.
//
//   deno run -A agents/clis.ts [claude-code codex gemini-cli opencode]
import { join } from "node:path";
import { cacheDir } from "../localcluster/paths.ts";
import { exists, hex } from "../localcluster/files.ts";

export type CliName = "claude-code" | "codex" | "gemini-cli" | "opencode";

export interface InstalledCli {
  version: string;
  /** The unpacked package (what was `package/` in the tarball). */
  dir: string;
  /** The program to run: a native executable, or for gemini-cli a Node script with a shebang (needs node >= 20). */
  executable: string;
}

type Arch = "x64" | "arm64";

interface Pin {
  version: string;
  /** The npm package spec that holds the program, for this machine's architecture. */
  spec: (arch: Arch) => string;
  /** Path of the program inside the package. */
  executable: (arch: Arch) => string;
}

/**
 * The pinned versions, one place. Native CLIs come from their platform packages
 * (one tarball each). gemini-cli is its Node bundle alone: its optional native
 * dependencies (node-pty, keytar) are not fetched, and it runs shell commands
 * and talks to the API without them (tests/unit/model_server/real_clis.test.ts).
 */
export const PINNED_CLIS: Record<CliName, Pin> = {
  "claude-code": {
    version: "2.1.328",
    spec: (arch) => `@anthropic-ai/claude-code-linux-${arch}@2.1.328`,
    executable: () => "claude",
  },
  codex: {
    version: "0.169.0",
    spec: (arch) => `@openai/codex@0.169.0-linux-${arch}`,
    executable: (arch) =>
      `vendor/${arch === "x64" ? "x86_64" : "aarch64"}-unknown-linux-musl/bin/codex`,
  },
  "gemini-cli": {
    version: "0.61.0",
    spec: () => "@google/gemini-cli@0.61.0",
    executable: () => "bundle/gemini.js",
  },
  opencode: {
    version: "1.18.33",
    spec: (arch) => `opencode-linux-${arch}@1.18.33`,
    executable: () => "bin/opencode",
  },
};

export const CLI_NAMES = Object.keys(PINNED_CLIS) as CliName[];

function arch(): Arch {
  return Deno.build.arch === "aarch64" ? "arm64" : "x64";
}

function npmDir(): string {
  return join(cacheDir(), "npm");
}

/** Where a spec's integrity is remembered after the first download. */
function pinFile(spec: string): string {
  return join(npmDir(), "pins", `${spec.replaceAll("/", "+")}.json`);
}

interface PinRecord {
  spec: string;
  integrity: string;
}

/** The folder an integrity's tarball unpacks to: content-addressed by its SHA-512. */
function unpackedDir(integrity: string): string {
  return join(npmDir(), "unpacked", integrityHex(integrity));
}

function integrityHex(integrity: string): string {
  const m = /^sha512-([A-Za-z0-9+/=]+)$/.exec(integrity);
  if (!m) throw new Error(`unsupported integrity ${integrity} (want sha512)`);
  const bytes = Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0));
  return hex(bytes);
}

function resultFor(name: CliName, dir: string): InstalledCli {
  const pin = PINNED_CLIS[name];
  return { version: pin.version, dir, executable: join(dir, pin.executable(arch())) };
}

/** The CLI if an earlier ensureCli put it in the cache; never downloads. */
export async function cachedCli(name: CliName): Promise<InstalledCli | undefined> {
  const spec = PINNED_CLIS[name].spec(arch());
  let record: PinRecord;
  try {
    record = JSON.parse(await Deno.readTextFile(pinFile(spec)));
  } catch {
    return undefined;
  }
  const dir = unpackedDir(record.integrity);
  if (!await exists(join(dir, ".kubetask-complete"))) return undefined;
  const cli = resultFor(name, dir);
  return await exists(cli.executable) ? cli : undefined;
}

const inFlight = new Map<CliName, Promise<InstalledCli>>();

/** The pinned CLI, downloaded and unpacked on first use. */
export function ensureCli(name: CliName): Promise<InstalledCli> {
  let p = inFlight.get(name);
  if (!p) {
    p = install(name).finally(() => inFlight.delete(name));
    inFlight.set(name, p);
  }
  return p;
}

async function install(name: CliName): Promise<InstalledCli> {
  const cached = await cachedCli(name);
  if (cached) return cached;
  const spec = PINNED_CLIS[name].spec(arch());
  await Deno.mkdir(join(npmDir(), "tarballs"), { recursive: true });
  await Deno.mkdir(join(npmDir(), "unpacked"), { recursive: true });
  await Deno.mkdir(join(npmDir(), "pins"), { recursive: true });
  const work = await Deno.makeTempDir({ dir: npmDir(), prefix: "tmp-" });
  try {
    const started = performance.now();
    console.error(`[clis] npm pack ${spec}`);
    const out = await new Deno.Command("npm", {
      args: [
        "pack",
        spec,
        "--json",
        "--ignore-scripts",
        "--loglevel=error",
        "--pack-destination",
        work,
        "--cache",
        join(work, "npm-cache"),
      ],
      cwd: work,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (out.code !== 0) {
      throw new Error(
        `npm pack ${spec} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as {
      filename: string;
      integrity: string;
    }[];
    const tarball = join(work, packed.filename);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-512", await Deno.readFile(tarball)),
    );
    const expected = integrityHex(packed.integrity);
    if (hex(digest) !== expected) {
      throw new Error(`${spec}: the tarball does not match the integrity npm reported`);
    }
    const kept = join(npmDir(), "tarballs", `${expected}.tgz`);
    await Deno.rename(tarball, kept);

    const unpack = join(work, "unpack");
    await Deno.mkdir(unpack);
    const tar = await new Deno.Command("tar", {
      args: ["-xzf", kept, "-C", unpack, "--strip-components=1", "--no-same-owner"],
      stderr: "piped",
    }).output();
    if (tar.code !== 0) throw new Error(`tar: ${new TextDecoder().decode(tar.stderr)}`);
    const cli = resultFor(name, unpack);
    await Deno.chmod(cli.executable, 0o755);
    await Deno.writeTextFile(join(unpack, ".kubetask-complete"), `${spec}\n${packed.integrity}\n`);
    const dir = unpackedDir(packed.integrity);
    try {
      await Deno.rename(unpack, dir);
    } catch (e) {
      // Another process unpacked the same content first: use theirs.
      if (!await exists(join(dir, ".kubetask-complete"))) throw e;
    }
    const record: PinRecord = { spec, integrity: packed.integrity };
    await Deno.writeTextFile(pinFile(spec), JSON.stringify(record, null, 2) + "\n");
    console.error(`[clis] ${spec} in ${((performance.now() - started) / 1000).toFixed(0)}s`);
    return resultFor(name, dir);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const names = Deno.args.length ? Deno.args : CLI_NAMES;
  for (const n of names) {
    if (!(n in PINNED_CLIS)) throw new Error(`unknown CLI ${n}; known: ${CLI_NAMES.join(", ")}`);
    const cli = await ensureCli(n as CliName);
    console.log(`${n} ${cli.version} ${cli.executable}`);
  }
}
