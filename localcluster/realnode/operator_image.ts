// The operator's image, built on this machine for the local real node the way
// the agent images are (images.ts assembles the root filesystem from files of
// the host and packs it): the Deno runtime, the operator bundled into one
// JavaScript file by `deno bundle`, the libraries the runtime links, CA
// certificates and a numeric non-root user. No shell, no package manager, no
// node_modules: the same contents as the Dockerfile's distroless image, with
// `deno` and the bundle in place of the `deno compile`d binary, which needs a
// `denort` runtime this machine cannot download (README, "The operator image").
import { join } from "node:path";
import { imagePrefix, LOCAL_TAG } from "../../agents/images.ts";
import { BUNDLE_RUN_FLAGS } from "../../controllers/runtime/runtime_flags.ts";
import { exists, sha256Hex } from "../files.ts";
import { cacheDir, repoRoot } from "../paths.ts";
import { addHostBinaries, type ImageSpec } from "./images.ts";

/**
 * The image's repository below the prefix: the chart's image.repository and
 * deploy/deployment.yaml's image are DEFAULT_IMAGE_PREFIX/this (a unit test
 * holds them to it).
 */
export const OPERATOR_IMAGE_NAME = "kubetask-controller";
/** The user the operator runs as (distroless "nonroot"; the chart's runAsUser). */
export const OPERATOR_UID = 65532;
/** Where the image holds the runtime and the bundle. */
export const IMAGE_DENO = "/usr/local/bin/deno";
export const IMAGE_BUNDLE = "/kubetask.js";
/**
 * DENO_DIR of the image: absent, and not creatable by the operator's user on
 * a root filesystem it cannot write, so the runtime keeps its caches (module
 * analysis, V8 code cache) in memory and writes nothing.
 */
export const IMAGE_DENO_DIR = "/var/cache/deno";
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** prefix/kubetask-controller:<tag> (the local build's tag is LOCAL_TAG, never `latest`). */
export function operatorImage(tag = LOCAL_TAG): string {
  return `${imagePrefix()}/${OPERATOR_IMAGE_NAME}:${tag}`;
}

/**
 * The image's entrypoint: the bundle run with the compiled binary's flags, i.e. the
 * executable, as /kubetask is in the compiled image. The subcommand is the image's
 * default command (`operator`) or the pod's first argument (`operator`, `gateway`).
 */
export function operatorEntrypoint(): string[] {
  return [IMAGE_DENO, "run", ...BUNDLE_RUN_FLAGS, IMAGE_BUNDLE];
}

/**
 * Bundles main.ts (and the npm packages it imports) into one file, stored by
 * its content in the cache: an unchanged operator gives the same file, and so
 * the same image, without a rebuild. Returns its path.
 */
export async function bundleOperator(
  root = repoRoot,
  dir = join(cacheDir(), "operator"),
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const partial = join(dir, `bundle-${crypto.randomUUID()}.js`);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", partial, "main.ts"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno bundle main.ts failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const bytes = await Deno.readFile(partial);
    const bundle = join(dir, `kubetask-${(await sha256Hex(bytes)).slice(0, 16)}.js`);
    if (await exists(bundle)) {
      const now = new Date();
      await Deno.utime(bundle, now, now).catch(() => {});
    } else await Deno.rename(partial, bundle);
    return bundle;
  } finally {
    await Deno.remove(partial).catch(() => {});
  }
}

/**
 * The operator image of `bundle`, run by this machine's Deno (the project's
 * pinned one). `extraCa`: PEM added to the image's CA bundle, as the agent
 * images add the local git server's CA, so the Git proxy sidecar run from this
 * image trusts that server.
 */
export async function operatorImageSpec(
  bundle: string,
  deno = Deno.execPath(),
  names = [operatorImage()],
  extraCa = "",
): Promise<ImageSpec> {
  const caBundle = extraCa
    ? { text: `${await Deno.readTextFile(HOST_CA_BUNDLE)}\n${extraCa}`, mode: 0o644 }
    : { host: HOST_CA_BUNDLE, mode: 0o644 };
  const spec: ImageSpec = {
    names,
    files: new Map([
      [IMAGE_BUNDLE.slice(1), { host: bundle, mode: 0o644 }],
      [HOST_CA_BUNDLE.slice(1), caBundle],
      // As distroless has them: no login shell for anyone.
      ["etc/passwd", {
        text: "root:x:0:0:root:/root:/sbin/nologin\n" +
          `nonroot:x:${OPERATOR_UID}:${OPERATOR_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
        mode: 0o644,
      }],
      ["etc/group", { text: `root:x:0:\nnonroot:x:${OPERATOR_UID}:\n`, mode: 0o644 }],
    ]),
    symlinks: new Map(),
    dirs: new Map([
      ["tmp", { mode: 0o1777 }],
      ["home/nonroot", { mode: 0o700, owner: OPERATOR_UID }],
    ]),
    entrypoint: operatorEntrypoint(),
    cmd: ["operator"],
    env: [
      "PATH=/usr/local/bin",
      `DENO_DIR=${IMAGE_DENO_DIR}`,
      // A pod must not reach out to Deno's release site at each start.
      "DENO_NO_UPDATE_CHECK=1",
    ],
    user: `${OPERATOR_UID}:${OPERATOR_UID}`,
    workingDir: "/",
  };
  await addHostBinaries(spec, { [IMAGE_DENO.slice(1)]: deno });
  return spec;
}
