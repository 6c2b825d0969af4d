// Where the local control plane keeps its binaries and state.
//
// Everything lives under one git-ignored cache folder so a second run reuses
// the Go-built binaries. KUBETASK_CACHE_DIR moves it (CI points it outside the
// clone so reruns on the same machine skip the build).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const KUBERNETES_VERSION = "v1.34.4";
export const KWOK_VERSION = "v0.7.0";
export const HELM_VERSION = "v3.22.0";
/** The NetworkPolicy engine of the real node (sigs.k8s.io/kube-network-policies). */
export const KUBE_NETWORK_POLICIES_VERSION = "v0.8.0";
/** Kueue (sigs.k8s.io/kueue): started by `cluster up --kueue` (localcluster/kueue.ts). */
export const KUEUE_VERSION = "v0.17.0";
/** CoreDNS, the real node's cluster DNS (localcluster/coredns/go.mod requires the same). */
export const COREDNS_VERSION = "v1.15.0";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function cacheDir(): string {
  return Deno.env.get("KUBETASK_CACHE_DIR") ?? join(repoRoot, ".cache");
}

/**
 * "-v": the binaries carry their release in their version (binaries.ts
 * VERSION_LDFLAGS); the folder of the earlier build without it is not reused.
 */
export function kubernetesBinDir(): string {
  return join(cacheDir(), "bin", `k8s-${KUBERNETES_VERSION}-v`);
}

export function kwokBinDir(): string {
  return join(cacheDir(), "bin", `kwok-${KWOK_VERSION}`);
}

export function kubeNetworkPoliciesBinDir(): string {
  return join(cacheDir(), "bin", `kube-network-policies-${KUBE_NETWORK_POLICIES_VERSION}`);
}

export function kueueBinDir(): string {
  return join(cacheDir(), "bin", `kueue-${KUEUE_VERSION}`);
}

/** `build`: a short hash of the wrapper module (its plugin list), so another list rebuilds. */
export function corednsBinDir(build: string): string {
  return join(cacheDir(), "bin", `coredns-${COREDNS_VERSION}-${build}`);
}

export function helmBinDir(): string {
  return join(cacheDir(), "bin", `helm-${HELM_VERSION}`);
}

/**
 * A cluster's name becomes a folder (removed whole by `down`), a bridge and a
 * network name, so it is a DNS label: no `/`, no `..`, nothing outside the
 * clusters folder. At most 40 characters leaves room for suffixes such as `-down`.
 */
export const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export class InvalidClusterName extends Error {
  constructor(name: string) {
    super(
      `invalid cluster name ${JSON.stringify(name)}: lower-case letters, digits and '-', ` +
        "at most 40, starting and ending with a letter or digit",
    );
    this.name = "InvalidClusterName";
  }
}

/** `name`, when it is a valid cluster name; throws InvalidClusterName otherwise. */
export function checkClusterName(name: string): string {
  if (!CLUSTER_NAME.test(name)) throw new InvalidClusterName(name);
  return name;
}

/** State of one named cluster: PKI, etcd data, logs, pids, kubeconfig. */
export function clusterStateDir(name: string): string {
  return join(cacheDir(), "clusters", checkClusterName(name));
}
