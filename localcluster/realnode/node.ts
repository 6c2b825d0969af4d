// A real node in the local cluster: containerd (runc, a CNI bridge) and a
// kubelet of the pinned release, all state inside the cluster's folder, the
// kubelet on the node's own bridge address (the apiserver reaches it there
// for logs and exec; nothing listens beyond loopback and that bridge).
// Tainted and labelled: only pods that ask for it (the e2e tests) land here;
// kwok's simulated node stays the default for everything else.
import { join } from "node:path";
import { ensureKubelet } from "../binaries.ts";
import {
  freePort,
  isOurs,
  kubectl,
  processesMentioning,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitFor,
} from "../process.ts";
import { KUBELET_CLIENT_USER } from "../pki.ts";
import { ensureGitCa } from "./git_ca.ts";
import { CNI_BIN_DIR } from "./host.ts";
import { bridgeOf, createNetwork, deleteBridge, type NodeNetwork } from "./network.ts";
import { agentImageSpecs } from "../../agents/images.ts";
import { buildImage, importImages, SANDBOX_IMAGE, sandboxSpec } from "./images.ts";
import {
  leftoverNetworkPolicies,
  startNetworkPolicies,
  stopNetworkPolicies,
} from "./network_policies.ts";

export const REAL_NODE = "kubetask-real-node";
const CONTAINER_LOG_LINKS = "/var/log/containers";
/** Pods select the real node by this label and tolerate the taint of the same key. */
export const REAL_NODE_LABEL = "kubetask.io/node";
export const REAL_NODE_LABEL_VALUE = "real";
/** An Agent's podSpec.scheduling that puts its pods on the real node (tainted: only they run there). */
export const REAL_NODE_SCHEDULING = {
  nodeSelector: { [REAL_NODE_LABEL]: REAL_NODE_LABEL_VALUE },
  tolerations: [{ key: REAL_NODE_LABEL, operator: "Exists", effect: "NoSchedule" }],
};

export interface RealNode extends NodeNetwork {
  node: string;
  containerdSocket: string;
  processes: {
    containerd?: StartedProcess;
    kubelet?: StartedProcess;
    /** The NetworkPolicy engine (network_policies.ts). */
    networkPolicies?: StartedProcess;
  };
}

interface ClusterRef {
  name: string;
  dir: string;
  kubeconfig: string;
  kubectl: string;
  caCert: string;
  /** The apiserver's URL (the NetworkPolicy engine connects to it). */
  server: string;
}

function containerdConfig(dir: string, socket: string): string {
  const c = join(dir, "containerd");
  return `version = 2
root = "${c}/root"
state = "${c}/state"
[grpc]
  address = "${socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${c}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  # Without CAP_SYS_RESOURCE the sandbox cannot raise its oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${dir}/cni/net.d"
`;
}

function cniConfig(name: string, dir: string, net: NodeNetwork): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: `kubetask-${name}`,
      plugins: [{
        type: "bridge",
        bridge: net.bridge,
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: net.subnet, gateway: net.gateway }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: join(dir, "cni", "ipam"),
        },
      }],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, socket: string, caCert: string, ip: string): string {
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      address: ip,
      port: freePort(),
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: freePort(),
      containerRuntimeEndpoint: `unix://${socket}`,
      // What this VM allows: cgroupfs, no per-QoS cgroups or allocatable enforcement, swap on.
      cgroupDriver: "cgroupfs",
      cgroupsPerQOS: false,
      enforceNodeAllocatable: [],
      failSwapOn: false,
      podLogsDir: join(dir, "pod-logs"),
      // As on real nodes: a client is who its certificate (of the cluster CA) or its bearer
      // token (a TokenReview) says, and may do what the apiserver's RBAC allows it on this
      // node (a SubjectAccessReview). The apiserver's own user is bound to
      // system:kubelet-api-admin (kubeletApiAdminBinding); anyone else is refused.
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true, cacheTTL: "30s" },
        x509: { clientCAFile: caCert },
      },
      authorization: {
        mode: "Webhook",
        webhook: { cacheAuthorizedTTL: "30s", cacheUnauthorizedTTL: "5s" },
      },
      registerWithTaints: [{
        key: REAL_NODE_LABEL,
        value: REAL_NODE_LABEL_VALUE,
        effect: "NoSchedule",
      }],
      evictionHard: {
        "memory.available": "50Mi",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
      },
      imageGCHighThresholdPercent: 99,
      imageGCLowThresholdPercent: 98,
      serializeImagePulls: false,
      // Pod deadlines (how the operator stops an agent) are checked on each sync: keep it short.
      syncFrequency: "5s",
    },
    null,
    2,
  );
}

/** Lets the apiserver's kubelet client (logs, exec, port-forward) through the kubelet's authorizer. */
export function kubeletApiAdminBinding(): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubetask-local:apiserver-kubelet-api-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:kubelet-api-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: ${KUBELET_CLIENT_USER}
`;
}

async function ctr(socket: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("ctr", {
    args: ["--address", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`ctr ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Starts containerd and the kubelet for cluster `c`; resolves once the node is Ready. */
export async function startRealNode(c: ClusterRef): Promise<RealNode> {
  const kubelet = await ensureKubelet();
  const socket = join(c.dir, "containerd", "containerd.sock");
  for (const sub of ["containerd", "cni/net.d", "kubelet", "pod-logs"]) {
    await Deno.mkdir(join(c.dir, sub), { recursive: true });
  }
  await Deno.writeTextFile(
    join(c.dir, "containerd", "config.toml"),
    containerdConfig(c.dir, socket),
  );
  // Made before the kubelet starts: it listens on the bridge's address (the
  // node IP, which cannot be loopback), and the CNI plugin reuses the bridge.
  const net = await createNetwork(c.name);
  const node: RealNode = {
    node: REAL_NODE,
    ...net,
    containerdSocket: socket,
    processes: {},
  };
  try {
    await Deno.writeTextFile(
      join(c.dir, "cni", "net.d", "10-kubetask.conflist"),
      cniConfig(c.name, c.dir, net),
    );
    const containerd = await startProcess("containerd", c.dir, "containerd", [
      "--config",
      join(c.dir, "containerd", "config.toml"),
    ]);
    node.processes.containerd = containerd;
    await waitFor(
      "containerd",
      async () => !!(await ctr(socket, ["version"])),
      30_000,
      containerd.pid,
      join(c.dir, "logs", "containerd.log"),
    );

    const ca = await ensureGitCa();
    const caBundle = await Deno.readTextFile(ca.cert);
    const images = [await buildImage(sandboxSpec())];
    for (const spec of await agentImageSpecs(caBundle)) images.push(await buildImage(spec));
    await importImages(socket, images);

    await kubectl(c, ["apply", "-f", "-"], kubeletApiAdminBinding());
    await Deno.writeTextFile(
      join(c.dir, "kubelet", "config.json"),
      kubeletConfig(c.dir, socket, c.caCert, net.gateway),
    );
    node.processes.kubelet = await startProcess("kubelet", c.dir, kubelet, [
      `--config=${join(c.dir, "kubelet", "config.json")}`,
      `--kubeconfig=${c.kubeconfig}`,
      `--root-dir=${join(c.dir, "kubelet")}`,
      // Its self-signed serving certificate too (the default is /var/lib/kubelet/pki).
      `--cert-dir=${join(c.dir, "kubelet", "pki")}`,
      `--hostname-override=${REAL_NODE}`,
      // A node IP cannot be loopback: the bridge's own address is the node's.
      `--node-ip=${net.gateway}`,
      `--node-labels=${REAL_NODE_LABEL}=${REAL_NODE_LABEL_VALUE}`,
      "--v=1",
    ]);
    await waitFor(
      "real node Ready",
      async () =>
        (await kubectl(c, [
          "get",
          "node",
          REAL_NODE,
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ])).trim() === "True",
      120_000,
      node.processes.kubelet.pid,
      join(c.dir, "logs", "kubelet.log"),
    );
    // The local controller-manager runs no node lifecycle controller to lift it.
    await kubectl(c, ["taint", "node", REAL_NODE, "node.kubernetes.io/not-ready:NoSchedule-"])
      .catch(
        () => {},
      );
    // NetworkPolicies are enforced on this node, as a CNI with policy support would.
    node.processes.networkPolicies = await startNetworkPolicies(c, {
      name: REAL_NODE,
      bridge: net.bridge,
      subnet: net.subnet,
    });
  } catch (err) {
    // Nothing half-started is left behind.
    await stopRealNode(c, node);
    throw err;
  }
  return node;
}

/** Mount points under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const mounts = await Deno.readTextFile("/proc/mounts");
  return mounts.split("\n").map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + "/")))
    .sort((a, b) => b.length - a.length);
}

/** Network namespaces of our pod sandboxes, read from containerd before it stops. */
export async function sandboxNetns(socket: string): Promise<string[]> {
  const paths: string[] = [];
  const ids = (await ctr(socket, ["-n", "k8s.io", "containers", "ls", "-q"]).catch(() => "")).split(
    "\n",
  ).filter(Boolean);
  for (const id of ids) {
    const info = await ctr(socket, ["-n", "k8s.io", "containers", "info", id]).catch(() => "");
    for (const m of info.matchAll(/"path": "(\/var\/run\/netns\/[^"]+)"/g)) paths.push(m[1]);
  }
  return [...new Set(paths)];
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  return await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()
    .then((o) => o.success, () => false);
}

/** What `cluster down` knows of a node whose start was cut short before it was recorded. */
export function unrecordedNode(name: string, dir: string): RealNode {
  return {
    node: REAL_NODE,
    bridge: bridgeOf(name),
    subnet: "",
    gateway: "",
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    processes: {},
  };
}

/**
 * Stops the node and removes everything it made: pods (through the kubelet
 * while it runs), containers, shims, mounts, network namespaces and the bridge.
 */
export async function stopRealNode(c: ClusterRef, node: RealNode): Promise<void> {
  // The kubelet tears pods down properly (CNI DEL, volume unmounts) if asked while running.
  const { containerd, kubelet } = node.processes ?? {};
  if (isOurs(kubelet)) {
    await kubectl(c, [
      "delete",
      "pods",
      "--all-namespaces",
      `--field-selector=spec.nodeName=${node.node}`,
      "--grace-period=1",
      "--wait=true",
      "--timeout=30s",
    ]).catch(() => {});
  }
  if (kubelet) await stopProcesses([kubelet], 10_000);
  await stopNetworkPolicies(node.processes?.networkPolicies, node.bridge);
  // One whose start was cut short before it was recorded: found by its queue number.
  for (const p of await leftoverNetworkPolicies(c.name)) {
    await stopNetworkPolicies(p, node.bridge);
  }
  const netns = isOurs(containerd) ? await sandboxNetns(node.containerdSocket) : [];
  if (isOurs(containerd)) {
    const tasks =
      (await ctr(node.containerdSocket, ["-n", "k8s.io", "tasks", "ls", "-q"]).catch(() => ""))
        .split("\n").filter(Boolean);
    for (const id of tasks) {
      await ctr(node.containerdSocket, ["-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id])
        .catch(() => {});
      await ctr(node.containerdSocket, ["-n", "k8s.io", "tasks", "delete", "-f", id]).catch(
        () => {},
      );
    }
  }
  if (containerd) await stopProcesses([containerd], 10_000);
  // Whatever is left by path on its command line: the shims name our containerd's
  // socket; a node that never finished starting has no recorded PIDs at all.
  for (const sub of ["kubelet", "containerd"]) {
    await stopProcesses(await processesMentioning(join(c.dir, sub) + "/"), 2_000);
  }
  for (const mount of await mountsUnder(c.dir)) {
    if (!(await run("umount", [mount]))) await run("umount", ["-l", mount]);
  }
  for (const path of netns) {
    await run("umount", [path]);
    await Deno.remove(path).catch(() => {});
  }
  await removeContainerLogLinks(c.dir);
  await deleteBridge(node.bridge);
}

/**
 * The kubelet links every container's log from /var/log/containers (a fixed
 * path) and removes a link only when it collects the container: links into
 * this cluster's folder go with it.
 */
export async function removeContainerLogLinks(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const link of await containerLogLinks(dir)) {
    await Deno.remove(link).then(() => removed.push(link), () => {});
  }
  return removed;
}

/** Links in /var/log/containers that point into `dir`. */
export async function containerLogLinks(dir: string): Promise<string[]> {
  const links: string[] = [];
  try {
    for await (const entry of Deno.readDir(CONTAINER_LOG_LINKS)) {
      const path = join(CONTAINER_LOG_LINKS, entry.name);
      const target = await Deno.readLink(path).catch(() => "");
      if (target.startsWith(dir + "/")) links.push(path);
    }
  } catch { /* no such folder: nothing linked */ }
  return links;
}
