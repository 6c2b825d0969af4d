// The real node's NetworkPolicy engine: sigs.k8s.io/kube-network-policies,
// started with the node and stopped with it. It programs one nftables table
// (inet kube-network-policies) whose postrouting chain sends the first packet
// of each connection to or from a pod some NetworkPolicy selects to NFQUEUE;
// it judges the packet against the policies in userspace. Only pods of this
// cluster's node are in its sets, so only this node's bridge is affected.
//
// Its table hooks postrouting only: a pod's connection to an address of the
// host itself (the bridge's own address, where the tests' git and model
// servers listen) is delivered locally (INPUT) and would never be judged.
// Egress to other pods (br_netfilter passes bridged packets through the IP
// hooks) and to anything routed beyond the host is.
//
// This machine's kernel has NFQUEUE (nfnetlink_queue, the xtables NFQUEUE
// target) but not nftables' own queue expression (CONFIG_NFT_QUEUE is off):
// the engine's table is refused as a whole (each sync logs "netlink receive:
// no such file or directory") while its queue listener runs. So the packets
// reach its queue through an iptables chain of ours instead (divertToQueue),
// the same selection its table would make: the first packet of a connection
// (not established or related), not from the host's root (kubelet probes),
// from or to this node's pod subnet. Every pod of the subnet is queued, not
// only those a policy selects: the engine accepts what no policy governs.
// A second chain on INPUT also queues the pods' new connections to the host's
// own addresses, so an Agent's allow-list holds for the host's servers too
// (as CNIs such as Calico and Cilium enforce egress to node addresses).
//
// Its settings, all from flags (read in its cmd/main.go at the pinned version):
//   --hostname-override   the node whose pods it guards (default: the machine's
//                         hostname, which is not our node's name)
//   --metrics-bind-address  default ":9080", every interface: loopback instead
//   --disable-nri         NRI is containerd's plugin socket under /var/run/nri;
//                         ours has none: pod IPs come from the apiserver
//   --fail-open           queued packets pass while nothing listens on the queue:
//                         a crashed engine leaves the machine's traffic alone
//   --netfilter-bug-1766-fix=false  a DNS conntrack race fixed in kernel 6.12
//   --nfqueue-id          default 100; one per cluster (see queueIdOf)
//   --admin-network-policy, --baseline-admin-network-policy  serve the
//                         AdminNetworkPolicy API (policy.networking.k8s.io/
//                         v1alpha1, judged before and after NetworkPolicies);
//                         its CRDs come from the network-policy-api module
//                         the engine's go.mod pins, applied before it starts
// It reads the apiserver only through rest.InClusterConfig(): the
// KUBERNETES_SERVICE_HOST/PORT variables and a token and CA under
// /var/run/secrets/kubernetes.io/serviceaccount. It runs in a mount namespace
// of its own where a tmpfs over /run holds them, so the host's /run is untouched.
import { join } from "node:path";
import { adminNetworkPolicyCrds, ensureKubeNetworkPolicies } from "../binaries.ts";
import { makePrivateDir, writePrivateFile } from "../private_files.ts";
import { iptables } from "./iptables.ts";
import {
  execedAs,
  freePort,
  isOurs,
  kubectl,
  OutputWatch,
  processesMentioning,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitFor,
} from "../process.ts";

export const ENGINE = "kube-network-policies";
const SA_NAMESPACE = "kube-system";
const SERVICE_ACCOUNT_DIR = "/run/secrets/kubernetes.io/serviceaccount";

interface ClusterRef {
  name: string;
  dir: string;
  kubeconfig: string;
  kubectl: string;
  caCert: string;
  /** The apiserver's URL, https://127.0.0.1:PORT. */
  server: string;
}

/** What it reads and nothing more (as its own install manifest grants). */
function rbac(): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${ENGINE}, namespace: ${SA_NAMESPACE}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kubetask-local:${ENGINE}}
rules:
- apiGroups: [""]
  resources: ["pods", "namespaces", "nodes"]
  verbs: ["list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["list", "watch"]
- apiGroups: ["policy.networking.k8s.io"]
  resources: ["adminnetworkpolicies", "baselineadminnetworkpolicies"]
  verbs: ["list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kubetask-local:${ENGINE}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubetask-local:${ENGINE}}
subjects:
- {kind: ServiceAccount, name: ${ENGINE}, namespace: ${SA_NAMESPACE}}
`;
}

/**
 * Its NFQUEUE number: one per cluster name, so two clusters' engines never
 * read each other's packets (the kernel has 65536 queues; 100 is its default).
 */
export function queueIdOf(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 1000 + (h % 60000);
}

function queueArgs(name: string): string[] {
  return [`--nfqueue-id=${queueIdOf(name)}`, "--v=2"];
}

/** An engine of cluster `name` that is not recorded (a start cut short). */
export async function leftoverNetworkPolicies(name: string): Promise<StartedProcess[]> {
  return await processesMentioning(` ${queueArgs(name).join(" ")}`);
}

/** Our chain for a node's bridge (iptables allows 28 characters; a bridge name has 15). */
export function divertChain(bridge: string): string {
  return `KT-NP-${bridge}`;
}

/** The chain for the pods' connections to the host itself (INPUT allows no owner match). */
function inputChain(bridge: string): string {
  return `${divertChain(bridge)}-in`;
}

/** Sends the first packet of each connection of `subnet`'s pods to the engine's queue. */
export async function divertToQueue(bridge: string, subnet: string, queue: number) {
  await removeDiversion(bridge);
  const chain = divertChain(bridge);
  // --queue-bypass: with no engine listening, packets pass (a crash never cuts the machine off).
  const toQueue = ["-j", "NFQUEUE", "--queue-num", String(queue), "--queue-bypass"];
  for (
    const rule of [
      ["-N", chain],
      ["-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"],
      ["-A", chain, "-m", "owner", "--uid-owner", "0", "-j", "RETURN"],
      ["-A", chain, "-s", subnet, ...toQueue],
      ["-A", chain, "-d", subnet, ...toQueue],
      ["-A", "POSTROUTING", "-j", chain],
      ["-N", inputChain(bridge)],
      [
        "-A",
        inputChain(bridge),
        "-m",
        "conntrack",
        "--ctstate",
        "ESTABLISHED,RELATED",
        "-j",
        "RETURN",
      ],
      ["-A", inputChain(bridge), "-s", subnet, ...toQueue],
      ["-A", "INPUT", "-j", inputChain(bridge)],
    ]
  ) {
    const res = await iptables(["-w", "-t", "mangle", ...rule]);
    if (!res.ok) {
      await removeDiversion(bridge);
      throw new Error(`iptables -t mangle ${rule.join(" ")}: ${res.err}`);
    }
  }
}

/** Removes our chains and the jumps to them; nothing there is not an error. */
export async function removeDiversion(bridge: string): Promise<void> {
  for (
    const [hook, chain] of [["POSTROUTING", divertChain(bridge)], ["INPUT", inputChain(bridge)]]
  ) {
    while ((await iptables(["-w", "-t", "mangle", "-D", hook, "-j", chain])).ok) {
      // One jump is added per start; a crashed run may have left more.
    }
    await iptables(["-w", "-t", "mangle", "-F", chain]);
    await iptables(["-w", "-t", "mangle", "-X", chain]);
  }
}

/** The node's name and network, as the engine needs them. */
export interface EngineNode {
  name: string;
  bridge: string;
  subnet: string;
}

/** Starts the engine for `node` of cluster `c`; resolves once it listens and packets reach it. */
export async function startNetworkPolicies(
  c: ClusterRef,
  node: EngineNode,
): Promise<StartedProcess> {
  const binary = await ensureKubeNetworkPolicies();
  const crds = await adminNetworkPolicyCrds();
  // Server-side: the CRDs are too large for client-side apply's annotation.
  await kubectl(c, ["apply", "--server-side", ...crds.flatMap((f) => ["-f", f])]);
  // Polled rather than `kubectl wait`, which fails at once on a CRD the apiserver has not given
  // any condition yet (".status.conditions accessor error"), as it did right after the apply.
  await waitFor("the AdminNetworkPolicy CRDs Established", async () => {
    const out = await kubectl(c, [
      "get",
      "crd/adminnetworkpolicies.policy.networking.k8s.io",
      "crd/baselineadminnetworkpolicies.policy.networking.k8s.io",
      "-o",
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Established")].status}{" "}{end}',
    ]);
    return out.trim() === "True True";
  }, 60_000);
  await kubectl(c, ["apply", "-f", "-"], rbac());
  const token = (await kubectl(c, [
    "create",
    "token",
    "-n",
    SA_NAMESPACE,
    ENGINE,
    "--duration=168h",
  ])).trim();
  const sa = join(c.dir, ENGINE, "serviceaccount");
  await makePrivateDir(sa);
  await writePrivateFile(join(sa, "token"), token);
  await writePrivateFile(join(sa, "ca.crt"), await Deno.readTextFile(c.caCert));
  await writePrivateFile(join(sa, "namespace"), SA_NAMESPACE);

  const server = new URL(c.server);
  const metricsPort = freePort();
  const args = [
    `--hostname-override=${node.name}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    "--disable-nri",
    "--fail-open",
    "--netfilter-bug-1766-fix=false",
    "--admin-network-policy",
    "--baseline-admin-network-policy",
    // Last, and in this order: leftoverNetworkPolicies() finds it by them.
    ...queueArgs(c.name),
  ];
  // In its own mount namespace: a tmpfs over /run with the token where
  // InClusterConfig looks, then exec (the PID stays the engine's).
  const script = `set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p ${SERVICE_ACCOUNT_DIR}
cp "$1"/token "$1"/ca.crt "$1"/namespace ${SERVICE_ACCOUNT_DIR}/
shift
exec "$@"`;
  const synced = new OutputWatch("Syncing nftables rules");
  let syncedYet = false;
  synced.seen.then(() => syncedYet = true);
  const wrapped = await startProcess(ENGINE, c.dir, "unshare", [
    "--mount",
    "env",
    `KUBERNETES_SERVICE_HOST=${server.hostname}`,
    `KUBERNETES_SERVICE_PORT=${server.port}`,
    "sh",
    "-c",
    script,
    "sh",
    sa,
    binary,
    ...args,
  ], { seen: synced });
  const log = join(c.dir, "logs", `${ENGINE}.log`);
  const engine = await execedAs(wrapped, [binary, ...args]);
  await waitFor(
    ENGINE,
    // Seen in its output as it passes: on this kernel it logs a failed netlink receive without
    // pause from its first second, so its log has been rotated many times by then.
    () => Promise.resolve(syncedYet),
    30_000,
    engine.pid,
    log,
  );
  try {
    await divertToQueue(node.bridge, node.subnet, queueIdOf(c.name));
  } catch (err) {
    await stopNetworkPolicies(engine, node.bridge);
    throw err;
  }
  return engine;
}

/**
 * Stops the engine. SIGINT is the signal it cleans up on (it deletes its
 * nftables table, after a 5 s grace); SIGTERM would leave the table behind.
 */
export async function stopNetworkPolicies(
  engine: StartedProcess | undefined,
  bridge: string,
): Promise<void> {
  // First: no packet is queued to an engine that is going away.
  await removeDiversion(bridge);
  if (!engine || !isOurs(engine)) return;
  try {
    Deno.kill(engine.pid, "SIGINT");
  } catch { /* already gone */ }
  const deadline = Date.now() + 10_000;
  while (isOurs(engine) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await stopProcesses([engine], 1_000);
}
