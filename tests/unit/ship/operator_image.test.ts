// The operator image built here (localcluster/realnode/operator_image.ts): what
// it holds (the runtime, the bundle, the libraries the runtime links, CA
// certificates, a numeric non-root user; no shell, no package manager, no
// node_modules), and that it runs from its own root filesystem as that user:
// its help, and a CLI command whose credentials come from the bundle running
// itself with the hidden subcommand (the access resolver).
import assert from "assert";
import { join } from "node:path";
import { DEFAULT_IMAGE_PREFIX, LOCAL_TAG } from "../../../agents/images.ts";
import { commandOnPath } from "../../../localcluster/realnode/host.ts";
import { buildImage } from "../../../localcluster/realnode/images.ts";
import {
  bundleOperator,
  IMAGE_BUNDLE,
  IMAGE_DENO,
  OPERATOR_IMAGE_NAME,
  OPERATOR_UID,
  operatorImage,
  operatorImageSpec,
} from "../../../localcluster/realnode/operator_image.ts";
import { BUNDLE_RUN_FLAGS } from "../../../controllers/runtime/runtime_flags.ts";
import { readDocs, repoRoot } from "./manifests.ts";

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: !!opts.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("operator image: the chart, deploy/ and the local build name the same repository", async () => {
  const repository = `${DEFAULT_IMAGE_PREFIX}/${OPERATOR_IMAGE_NAME}`;
  const [values] = await readDocs(join(repoRoot, "deploy/helm/kubetask/values.yaml"));
  assert.equal(values.image.repository, repository);
  const [deployment] = await readDocs(join(repoRoot, "deploy/deployment.yaml"));
  assert.equal(deployment.spec.template.spec.containers[0].image.split(":")[0], repository);
  assert.equal(operatorImage(), `${repository}:${LOCAL_TAG}`);
});

interface Built {
  dir: string;
  tarball: string;
  rootfs: string;
  config: {
    config: {
      Entrypoint: string[];
      Cmd?: string[];
      Env: string[];
      User: string;
      WorkingDir: string;
    };
  };
  /** `tar -tvf` of the layer: mode owner size date time path [-> target] */
  listing: string[];
}

let built: Promise<Built> | undefined;
/** Bundles this checkout and builds its image into a temporary folder (once for this file). */
function buildOnce(): Promise<Built> {
  built ??= (async () => {
    const dir = builtDir = await Deno.makeTempDir({ prefix: "operator-image-" });
    const bundle = await bundleOperator(repoRoot, join(dir, "bundle"));
    const tarball = await buildImage(await operatorImageSpec(bundle), join(dir, "images"));
    const image = join(dir, "image");
    await Deno.mkdir(image);
    assert.equal((await run("tar", ["-xf", tarball, "-C", image])).code, 0);
    const rootfs = join(dir, "rootfs");
    await Deno.mkdir(rootfs);
    // As root (the tests' user here) tar keeps the layer's owners, as containerd does.
    assert.equal((await run("tar", ["-xf", join(image, "layer.tar"), "-C", rootfs])).code, 0);
    const listing = (await run("tar", ["--numeric-owner", "-tvf", join(image, "layer.tar")]))
      .stdout.split("\n").filter(Boolean);
    const config = JSON.parse(await Deno.readTextFile(join(image, "config.json")));
    return { dir, tarball, rootfs, config, listing };
  })();
  return built;
}

let builtDir: string | undefined;
// What the build left, whichever test ran last.
globalThis.addEventListener("unload", () => {
  if (builtDir) Deno.removeSync(builtDir, { recursive: true });
});

const pathOf = (line: string) => line.split(/\s+/).slice(5).join(" ").replace(/^\.\//, "");

Deno.test("operator image: the runtime, the bundle and what they need; no shell, package manager or node_modules", async () => {
  const { config, listing, tarball } = await buildOnce();
  const paths = listing.map(pathOf);
  for (
    const needed of [
      IMAGE_DENO.slice(1),
      IMAGE_BUNDLE.slice(1),
      "etc/ssl/certs/ca-certificates.crt",
      "etc/passwd",
      "lib64/ld-linux-x86-64.so.2",
    ]
  ) {
    assert.ok(paths.includes(needed), `${needed} in the image`);
  }
  // Every library the runtime links, under the name the loader asks for.
  const ldd = (await run("ldd", [Deno.execPath()])).stdout;
  for (const [, lib] of ldd.matchAll(/=> (\/\S+) \(0x/g)) {
    assert.ok(paths.includes(lib.slice(1)), `${lib} in the image`);
  }
  for (const path of paths) {
    assert.doesNotMatch(path, /(^|\/)(sh|bash|ash|dash|busybox|apt|apt-get|dpkg|npm|node)$/, path);
    assert.doesNotMatch(path, /node_modules/, path);
    assert.doesNotMatch(path, /^var\/lib\/(dpkg|apt)/, path);
  }
  // Only the runtime and the loader and libraries are executable; nothing is setuid/setgid.
  for (const line of listing) {
    const [mode] = line.split(/\s+/);
    assert.doesNotMatch(mode, /[sS]/, line);
    if (mode.startsWith("-") && mode.includes("x")) {
      assert.match(pathOf(line), /^(usr\/local\/bin\/deno|lib64\/|lib\/|usr\/lib\/)/, line);
    }
  }
  assert.equal(config.config.User, `${OPERATOR_UID}:${OPERATOR_UID}`);
  assert.deepEqual(config.config.Entrypoint, [
    IMAGE_DENO,
    "run",
    ...BUNDLE_RUN_FLAGS,
    IMAGE_BUNDLE,
  ]);
  assert.deepEqual(config.config.Cmd, ["operator"]);
  const passwd = await Deno.readTextFile(join((await buildOnce()).rootfs, "etc/passwd"));
  assert.match(passwd, new RegExp(`^nonroot:x:${OPERATOR_UID}:${OPERATOR_UID}:`, "m"));
  assert.doesNotMatch(passwd, /\/bin\/(ba)?sh$/m, "no login shell");
  const size = (await Deno.stat(tarball)).size;
  console.error(`[operator image] ${(size / 1e6).toFixed(1)} MB, ${paths.length} entries`);
});

/**
 * A container of the image, near enough: its root filesystem as root with
 * /proc (a PID namespace of its own) and /dev, its user and its environment.
 * Needs root; the mounts live in a mount namespace that goes with it.
 */
async function inImage(rootfs: string, env: string[], args: string[]) {
  const path = `${Deno.env.get("PATH")}:/usr/sbin:/usr/bin:/sbin:/bin`;
  const tools = await Promise.all(["unshare", "sh", "mount", "chroot"].map(async (name) => {
    const found = await commandOnPath(name, path);
    assert.ok(found, `${name} on PATH`);
    return found;
  }));
  const [unshare, sh, mount, chroot] = tools;
  for (const dir of ["proc", "dev"]) await Deno.mkdir(join(rootfs, dir), { recursive: true });
  const script = `set -e
r="$1"; shift
${mount} -t proc proc "$r/proc"
${mount} --rbind /dev "$r/dev"
exec ${chroot} --userspec=${OPERATOR_UID}:${OPERATOR_UID} "$r" "$@"`;
  return await run(
    unshare,
    ["--mount", "--pid", "--fork", sh, "-c", script, "sh", rootfs, ...args],
    {
      env: Object.fromEntries(
        env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
      ),
    },
  );
}

const asRoot = Deno.uid() === 0;

Deno.test({
  name: "operator image: runs from its own root filesystem as 65532, writing nothing",
  ignore: !asRoot,
  fn: async () => {
    const { rootfs, config } = await buildOnce();
    const help = await inImage(rootfs, config.config.Env, [
      ...config.config.Entrypoint,
      ...config.config.Cmd ?? [],
      "--help",
    ]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--leader-elect/);
    // DENO_DIR cannot be made: nothing was written anywhere in the image.
    const written = await run("find", [
      rootfs,
      "-newer",
      join(rootfs, IMAGE_BUNDLE),
      "-not",
      "-type",
      "d",
    ]);
    assert.equal(written.stdout.trim(), "", written.stdout);
  },
});

Deno.test({
  name: "operator image: the bundle resolves credentials by running itself (__resolve-access)",
  ignore: !asRoot,
  fn: async () => {
    const { rootfs, config } = await buildOnce();
    // A server the CLI can only have learnt of from the resolver's answer: it connects there.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const connected = listener.accept().then((conn) => {
      conn.close();
      return true;
    });
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]
users: [{name: u, user: {token: t0k3n}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns1}}]
current-context: x
`;
    await Deno.writeTextFile(join(rootfs, "tmp/kubeconfig"), kubeconfig);
    await Deno.chmod(join(rootfs, "tmp/kubeconfig"), 0o644);
    try {
      const entry = config.config.Entrypoint; // deno run <flags> /kubetask.js
      const list = await inImage(rootfs, config.config.Env, [
        ...entry,
        "list",
        "--kubeconfig",
        "/tmp/kubeconfig",
      ]);
      assert.doesNotMatch(list.stderr, /cannot load cluster credentials/, list.stderr);
      assert.equal(
        await Promise.race([connected, new Promise((r) => setTimeout(() => r(false), 5_000))]),
        true,
        `the CLI never connected to the kubeconfig's server: ${list.stderr}`,
      );
      // The hidden subcommand itself, as the operator runs it.
      const resolved = await inImage(rootfs, config.config.Env, [
        ...entry,
        "__resolve-access",
        "/tmp/kubeconfig",
        "",
      ]);
      assert.equal(resolved.code, 0, resolved.stderr);
      const access = JSON.parse(resolved.stdout);
      assert.equal(access.server, `https://127.0.0.1:${port}`);
      assert.equal(access.headers.Authorization, "Bearer t0k3n");
      assert.equal(access.namespace, "ns1");

      // In a pod: no kubeconfig, the kubelet's service-account files and KUBERNETES_SERVICE_*.
      const sa = join(rootfs, "var/run/secrets/kubernetes.io/serviceaccount");
      await Deno.mkdir(sa, { recursive: true });
      for (const [name, text] of [["token", "pod-t0k3n"], ["namespace", "ops"], ["ca.crt", "x"]]) {
        await Deno.writeTextFile(join(sa, name), text);
        await Deno.chown(join(sa, name), OPERATOR_UID, OPERATOR_UID);
        await Deno.chmod(join(sa, name), 0o600);
      }
      const inCluster = await inImage(
        rootfs,
        [...config.config.Env, "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443"],
        [...entry, "__resolve-access", "", ""],
      );
      assert.equal(inCluster.code, 0, inCluster.stderr);
      const pod = JSON.parse(inCluster.stdout);
      assert.equal(pod.server, "https://10.96.0.1:443");
      assert.equal(pod.tokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
      assert.equal(pod.namespace, "ops");
    } finally {
      listener.close();
      await connected.catch(() => {});
    }
  },
});
