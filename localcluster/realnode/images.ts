// Container images for the real node, built on this machine without any
// registry: a root filesystem assembled from files of the host (busybox-static,
// and git with the libraries it links), packed as a docker-archive tarball
// that `ctr images import` loads. Cached by content: a rebuild only happens
// when what goes in changes.
import { basename, dirname, join } from "node:path";
import { cacheDir } from "../paths.ts";
import { exists, sha256Hex } from "../files.ts";

export const SANDBOX_IMAGE = "kubetask.local/pause:1";

/** Busybox applets the images' shell scripts use. */
const APPLETS = [
  "sh",
  "cat",
  "ls",
  "find",
  "stat",
  "sleep",
  "echo",
  "env",
  "mkdir",
  "printf",
  "head",
  "tail",
  "wc",
  "sort",
  "tr",
  "sed",
  "grep",
  "id",
  "true",
  "false",
  "test",
  "[",
  "kill",
  "ps",
  "date",
  "od",
  "basename",
  "dirname",
  "cp",
  "rm",
  "mv",
  "touch",
  "chmod",
  "uname",
  "hostname",
  "timeout",
];

export interface ImageFile {
  /** Copied from this host path, or written with `text`. */
  host?: string;
  text?: string;
  mode: number;
  /** Owner (uid = gid) in the image; root when left out. */
  owner?: number;
}

export interface ImageSpec {
  /** Names (repository:tag) the image is imported under. */
  names: string[];
  /** Files: path in the image → what it holds. */
  files: Map<string, ImageFile>;
  symlinks: Map<string, string>;
  /** Empty directories, with their mode and owner. */
  dirs?: Map<string, { mode: number; owner?: number }>;
  entrypoint: string[];
  /** The default arguments (a pod's `args` replace them). */
  cmd?: string[];
  env: string[];
  /** "uid:gid" the image runs as; root when left out. */
  user?: string;
  workingDir?: string;
}

async function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: opts.cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

export function busyboxBase(): Pick<ImageSpec, "files" | "symlinks"> {
  const files = new Map<string, ImageFile>();
  const symlinks = new Map<string, string>();
  files.set("bin/busybox", { host: "/bin/busybox", mode: 0o755 });
  for (const applet of APPLETS) symlinks.set(`bin/${applet}`, "busybox");
  files.set("etc/passwd", {
    text: "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n",
    mode: 0o644,
  });
  files.set("etc/group", { text: "root:x:0:\nnonroot:x:65532:\n", mode: 0o644 });
  return { files, symlinks };
}

/** The shared libraries `binary` loads, from ldd; none for a static executable or a script. */
async function librariesOf(binary: string): Promise<string[]> {
  const out = await new Deno.Command("ldd", { args: [binary], stdout: "piped", stderr: "null" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  return [...text.matchAll(/(\/[^\s]+) \(0x/g)].map((m) => m[1]);
}

/** Adds every file below `hostDir` under `imageDir`, with its mode. */
export function addHostTree(spec: Pick<ImageSpec, "files">, hostDir: string, imageDir: string) {
  for (const entry of Deno.readDirSync(hostDir)) {
    const host = join(hostDir, entry.name);
    if (entry.isDirectory) addHostTree(spec, host, `${imageDir}/${entry.name}`);
    else if (entry.isFile) {
      spec.files.set(`${imageDir}/${entry.name}`, {
        host,
        mode: Deno.statSync(host).mode! & 0o755,
      });
    }
  }
}

/**
 * Adds executables and every library they link, at the paths the loader asks
 * for: `binaries` maps a path in the image to the host file (a plain list of
 * host paths keeps each at its own path).
 */
export async function addHostBinaries(
  spec: Pick<ImageSpec, "files">,
  binaries: string[] | Record<string, string>,
) {
  const entries = Array.isArray(binaries)
    ? binaries.map((b) => [b.slice(1), b])
    : Object.entries(binaries);
  const libs = new Set<string>();
  for (const [path, host] of entries) {
    spec.files.set(path, { host: await Deno.realPath(host), mode: 0o755 });
    for (const lib of await librariesOf(host)) libs.add(lib);
  }
  // Copy the file each link points at, under the name the loader asks for.
  for (const lib of libs) {
    spec.files.set(lib.slice(1), { host: await Deno.realPath(lib), mode: 0o755 });
  }
}

export function sandboxSpec(): ImageSpec {
  return {
    names: [SANDBOX_IMAGE],
    ...busyboxBase(),
    entrypoint: ["/bin/sleep", "2147483647"],
    env: [],
  };
}

/** What determines an image's bytes: its spec, and the host files' sizes and times. */
async function fingerprint(spec: ImageSpec): Promise<string> {
  const parts: unknown[] = [
    spec.names,
    spec.entrypoint,
    spec.env,
    spec.user,
    spec.workingDir,
    [...spec.symlinks].sort(),
    [...(spec.dirs ?? [])].sort(),
  ];
  for (const [path, f] of [...spec.files].sort()) {
    if (f.host) {
      const st = await Deno.stat(f.host);
      parts.push([path, f.host, st.size, st.mtime?.getTime(), f.mode, f.owner]);
    } else parts.push([path, f.text, f.mode, f.owner]);
  }
  return (await sha256Hex(new TextEncoder().encode(JSON.stringify(parts)))).slice(0, 16);
}

/** Builds (or reuses) the docker-archive tarball of `spec` in `dir`; returns its path. */
export async function buildImage(
  spec: ImageSpec,
  dir = join(cacheDir(), "images"),
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const stem = spec.names[0].replace(/[^a-z0-9.-]/g, "_");
  const tarball = join(dir, `${stem}-${await fingerprint(spec)}.tar`);
  if (await exists(tarball)) {
    // Its time says when it was last used: pruneUnused keeps what any checkout still uses.
    const now = new Date();
    await Deno.utime(tarball, now, now).catch(() => {});
    return tarball;
  }

  const work = await Deno.makeTempDir({ dir, prefix: "build-" });
  try {
    const rootfs = join(work, "rootfs");
    for (const [path, f] of spec.files) {
      const target = join(rootfs, path);
      await Deno.mkdir(dirname(target), { recursive: true });
      if (f.host) await Deno.copyFile(f.host, target);
      else await Deno.writeTextFile(target, f.text ?? "");
      await Deno.chmod(target, f.mode);
      if (f.owner !== undefined) await Deno.chown(target, f.owner, f.owner);
    }
    for (const [path, d] of spec.dirs ?? []) {
      const target = join(rootfs, path);
      await Deno.mkdir(target, { recursive: true });
      await Deno.chmod(target, d.mode);
      if (d.owner !== undefined) await Deno.chown(target, d.owner, d.owner);
    }
    for (const [path, target] of spec.symlinks) {
      await Deno.mkdir(dirname(join(rootfs, path)), { recursive: true });
      await Deno.symlink(target, join(rootfs, path));
    }
    await Deno.chmod(join(rootfs, "tmp"), 0o1777).catch(() => {});
    const image = join(work, "image");
    await Deno.mkdir(image);
    // Reproducible layer: sorted names, fixed time, owners as set above
    // (everything else is root's: the builder runs as root).
    await run("tar", [
      "--sort=name",
      "--numeric-owner",
      "--mtime=@0",
      "-C",
      rootfs,
      "-cf",
      join(image, "layer.tar"),
      ".",
    ]);
    const diffId = `sha256:${await sha256Hex(await Deno.readFile(join(image, "layer.tar")))}`;
    const config = {
      architecture: "amd64",
      os: "linux",
      config: {
        Entrypoint: spec.entrypoint,
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        Env: spec.env,
        WorkingDir: spec.workingDir ?? "/",
        ...(spec.user ? { User: spec.user } : {}),
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
    };
    await Deno.writeTextFile(join(image, "config.json"), JSON.stringify(config));
    await Deno.writeTextFile(
      join(image, "manifest.json"),
      JSON.stringify([{ Config: "config.json", RepoTags: spec.names, Layers: ["layer.tar"] }]),
    );
    const partial = `${tarball}.partial`;
    await run("tar", ["-C", image, "-cf", partial, "manifest.json", "config.json", "layer.tar"]);
    await Deno.rename(partial, tarball);
    await pruneUnused(dir, stem, tarball);
    return tarball;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** How long an earlier build of an image stays after its last use. */
export const UNUSED_BUILD_TTL_MS = 24 * 3600_000;

/**
 * Removes earlier builds of the image (an agent image is hundreds of MB) unused for a day. Not
 * every earlier build: checkouts sharing the cache (KUBETASK_TEST_CLUSTER) build from their
 * own paths, so each has its own tarball, and one may be about to import the other's.
 */
export async function pruneUnused(
  dir: string,
  stem: string,
  keep: string,
  now = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (!e.name.startsWith(`${stem}-`) || path === keep) continue;
    const used = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime() ?? now;
    if (now - used > UNUSED_BUILD_TTL_MS) {
      await Deno.remove(path).then(() => removed.push(path), () => {});
    }
  }
  return removed;
}

/** Loads tarballs into containerd's Kubernetes namespace. */
export async function importImages(socket: string, tarballs: string[]): Promise<void> {
  for (const tarball of tarballs) {
    await run("ctr", ["--address", socket, "-n", "k8s.io", "images", "import", tarball]);
  }
  console.error(`[cluster] imported ${tarballs.map((t) => basename(t)).join(", ")}`);
}
