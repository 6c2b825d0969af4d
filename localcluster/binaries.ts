// Builds the control-plane binaries from Go modules with the machine's Go.
//
// kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd (and,
// for a real node, kubelet)
// come from the wrapper module in ./gobuild (it pins one Kubernetes release and
// maps the staging modules to their published versions); kwok is installed by
// module path. Results are cached by version: a second call is a few stats.
import { join } from "node:path";
import { exists, sha256Hex } from "./files.ts";
import {
  corednsBinDir,
  HELM_VERSION,
  helmBinDir,
  KUBE_NETWORK_POLICIES_VERSION,
  kubeNetworkPoliciesBinDir,
  KUBERNETES_VERSION,
  kubernetesBinDir,
  KUEUE_VERSION,
  kueueBinDir,
  KWOK_VERSION,
  kwokBinDir,
  repoRoot,
} from "./paths.ts";

export interface ControlPlaneBinaries {
  etcd: string;
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  kubectl: string;
  kwok: string;
}

const kubernetesPackages = {
  apiserver: "k8s.io/kubernetes/cmd/kube-apiserver",
  controllerManager: "k8s.io/kubernetes/cmd/kube-controller-manager",
  scheduler: "k8s.io/kubernetes/cmd/kube-scheduler",
  kubectl: "k8s.io/kubernetes/cmd/kubectl",
  // etcd's main package; `go build` names the binary "server".
  etcd: "go.etcd.io/etcd/server/v3",
} as const;

const binaryNames: Record<keyof typeof kubernetesPackages, string> = {
  apiserver: "kube-apiserver",
  controllerManager: "kube-controller-manager",
  scheduler: "kube-scheduler",
  kubectl: "kubectl",
  etcd: "server",
};

export function binaryPaths(): ControlPlaneBinaries {
  const k8s = kubernetesBinDir();
  return {
    etcd: join(k8s, binaryNames.etcd),
    apiserver: join(k8s, binaryNames.apiserver),
    controllerManager: join(k8s, binaryNames.controllerManager),
    scheduler: join(k8s, binaryNames.scheduler),
    kubectl: join(k8s, binaryNames.kubectl),
    kwok: join(kwokBinDir(), "kwok"),
  };
}

/**
 * Built from the module, the binaries would report "v0.0.0-master+$Format:%H$"
 * (the release scripts stamp the version): clients that parse the server's
 * /version, Kueue among them, refuse it. The link stamps the pinned release.
 */
export function versionLdflags(): string {
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");
  return [
    "-s",
    "-w",
    ...["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
      `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ]),
  ].join(" ");
}

async function go(args: string[], cwd: string, env: Record<string, string> = {}): Promise<void> {
  const started = performance.now();
  console.error(`[cluster] go ${args.join(" ")}`);
  const { code } = await new Deno.Command("go", {
    args,
    cwd,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`go ${args[0]} failed with exit code ${code}`);
  console.error(`[cluster] done in ${((performance.now() - started) / 1000).toFixed(0)}s`);
}

/**
 * `go install`s `pkg` (module path@version) into `binDir` unless its binary
 * `name` is there already; returns the binary's path.
 */
async function goInstalled(binDir: string, name: string, pkg: string): Promise<string> {
  const path = join(binDir, name);
  if (!(await exists(path))) {
    await Deno.mkdir(binDir, { recursive: true });
    await go(["install", "-trimpath", "-ldflags=-s -w", pkg], repoRoot, { GOBIN: binDir });
  }
  return path;
}

/** The kubelet of the same release, built only for a real node. */
export async function ensureKubelet(): Promise<string> {
  const path = join(kubernetesBinDir(), "kubelet");
  if (!(await exists(path))) {
    await Deno.mkdir(kubernetesBinDir(), { recursive: true });
    await go(
      [
        "build",
        "-trimpath",
        `-ldflags=${versionLdflags()}`,
        "-o",
        kubernetesBinDir() + "/",
        "k8s.io/kubernetes/cmd/kubelet",
      ],
      join(repoRoot, "localcluster", "gobuild"),
    );
  }
  return path;
}

/** helm, by module path at the pinned version (tests render the charts with it). */
export async function ensureHelm(): Promise<string> {
  return await goInstalled(helmBinDir(), "helm", `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`);
}

/**
 * kube-network-policies, by module path at the pinned version: the real node's
 * NetworkPolicy engine. Its main package is the module's cmd/, so `go install`
 * names the binary "cmd".
 */
export async function ensureKubeNetworkPolicies(): Promise<string> {
  return await goInstalled(
    kubeNetworkPoliciesBinDir(),
    "cmd",
    `sigs.k8s.io/kube-network-policies/cmd@${KUBE_NETWORK_POLICIES_VERSION}`,
  );
}

/**
 * CoreDNS with the few plugins the real node's Corefile uses, from the wrapper
 * module in ./coredns (it pins the release; its main package picks the plugins).
 * Static (no cgo): the image holds nothing else.
 */
export async function ensureCoreDNS(): Promise<string> {
  const dir = join(repoRoot, "localcluster", "coredns");
  const sources = await Promise.all(
    ["go.mod", "go.sum", "main.go"].map((f) => Deno.readTextFile(join(dir, f))),
  );
  const build = (await sha256Hex(new TextEncoder().encode(sources.join("\0")))).slice(0, 12);
  const path = join(corednsBinDir(build), "coredns");
  if (!(await exists(path))) {
    await Deno.mkdir(corednsBinDir(build), { recursive: true });
    await go(
      ["build", "-trimpath", "-ldflags=-s -w", "-o", `${path}.partial`, "."],
      dir,
      { CGO_ENABLED: "0" },
    );
    await Deno.rename(`${path}.partial`, path);
  }
  return path;
}

/**
 * Kueue's manager, by module path at the pinned version (`cluster up --kueue`).
 * Its main package is cmd/kueue, so `go install` names the binary "kueue".
 */
export async function ensureKueue(): Promise<string> {
  return await goInstalled(kueueBinDir(), "kueue", `sigs.k8s.io/kueue/cmd/kueue@${KUEUE_VERSION}`);
}

/**
 * Kueue's CRDs as its module ships them (config/components/crd/bases), without
 * the conversion-webhook patches: only v1beta2, the storage version, is used
 * here (Kueue's own clients and ours), so the apiserver needs no conversion.
 */
export async function kueueCrds(): Promise<string[]> {
  const dir = join(await goModuleDir("sigs.k8s.io/kueue", KUEUE_VERSION), "config", "components");
  const bases = join(dir, "crd", "bases");
  const files: string[] = [];
  for await (const e of Deno.readDir(bases)) {
    if (e.isFile && e.name.endsWith(".yaml")) files.push(join(bases, e.name));
  }
  return files.sort();
}

/** Kueue's webhook configurations as its module ships them (service references, no CA). */
export async function kueueWebhookManifests(): Promise<string> {
  const dir = await goModuleDir("sigs.k8s.io/kueue", KUEUE_VERSION);
  return await Deno.readTextFile(join(dir, "config", "components", "webhook", "manifests.yaml"));
}

/** The directory of a Go module version in the module cache (downloaded once if absent). */
async function goModuleDir(module: string, version: string): Promise<string> {
  const out = await new Deno.Command("go", {
    args: ["mod", "download", "-json", `${module}@${version}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout) || "{}");
  if (out.code !== 0 || typeof info.Dir !== "string") {
    throw new Error(
      `go mod download ${module}@${version}: ${
        info.Error ?? new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return info.Dir;
}

/**
 * The AdminNetworkPolicy and BaselineAdminNetworkPolicy CRDs of the
 * network-policy-api version kube-network-policies is built against, as its
 * go.mod pins it: the API its --admin-network-policy serves. The experimental
 * channel: only it has the `networks` and `nodes` egress peers (addresses
 * outside the cluster's pods), which the engine judges.
 */
export async function adminNetworkPolicyCrds(): Promise<string[]> {
  const engine = await goModuleDir(
    "sigs.k8s.io/kube-network-policies",
    KUBE_NETWORK_POLICIES_VERSION,
  );
  const goMod = await Deno.readTextFile(join(engine, "go.mod"));
  const version = /^\s*sigs\.k8s\.io\/network-policy-api\s+(v\S+)\s*$/m.exec(goMod)?.[1];
  if (!version) throw new Error(`${engine}/go.mod names no sigs.k8s.io/network-policy-api`);
  const api = await goModuleDir("sigs.k8s.io/network-policy-api", version);
  return ["adminnetworkpolicies", "baselineadminnetworkpolicies"].map((plural) =>
    join(api, "config", "crd", "experimental", `policy.networking.k8s.io_${plural}.yaml`)
  );
}

/** Builds whatever binaries are missing and returns all their paths. */
export async function ensureBinaries(): Promise<ControlPlaneBinaries> {
  const paths = binaryPaths();
  const toBuild: string[] = [];
  for (const key of Object.keys(kubernetesPackages) as (keyof typeof kubernetesPackages)[]) {
    if (!(await exists(paths[key]))) toBuild.push(kubernetesPackages[key]);
  }
  if (toBuild.length > 0) {
    await Deno.mkdir(kubernetesBinDir(), { recursive: true });
    await go(
      [
        "build",
        "-trimpath",
        `-ldflags=${versionLdflags()}`,
        "-o",
        kubernetesBinDir() + "/",
        ...toBuild,
      ],
      join(repoRoot, "localcluster", "gobuild"),
    );
  }
  await goInstalled(kwokBinDir(), "kwok", `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`);
  return paths;
}
