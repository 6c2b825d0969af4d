// A real node in the local cluster, started and stopped: containerd (runc, a
// CNI bridge) and a kubelet of the pinned release, all state inside the
// cluster's folder, the kubelet on the node's own bridge address (the
// apiserver reaches it there for logs and exec; nothing listens beyond
// loopback and that bridge). What each is configured with is in
// node_config.ts.
import { join } from "node:path";
import { ensureKubelet } from "../binaries.ts";
import {
  isOurs,
  kubectl,
  processesMentioning,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitFor,
} from "../process.ts";
import { ensureGitCa } from "./git_ca.ts";
import { startApiserverService, stopApiserverService } from "./apiserver_service.ts";
import { bridgeOf, createNetwork, deleteBridge, type NodeNetwork } from "./network.ts";
import { agentImageSpecs } from "../../agents/images.ts";
import { buildImage, importImages, sandboxSpec } from "./images.ts";
import { bundleOperator, operatorImageSpec } from "./operator_image.ts";
import { corednsImageSpec, startClusterDns } from "./cluster_dns.ts";
import {
  leftoverNetworkPolicies,
  startNetworkPolicies,
  stopNetworkPolicies,
} from "./network_policies.ts";
import {
  cniConfig,
  containerdConfig,
  kubeletApiAdminBinding,
  kubeletConfig,
  REAL_NODE,
  REAL_NODE_LABEL,
  REAL_NODE_LABEL_VALUE,
} from "./node_config.ts";

const CONTAINER_LOG_LINKS = "/var/log/containers";

export interface RealNode extends NodeNetwork {
  node: string;
  containerdSocket: string;
  processes: {
    containerd?: StartedProcess;
    kubelet?: StartedProcess;
    /** The NetworkPolicy engine (network_policies.ts). */
    networkPolicies?: StartedProcess;
    /** The relay behind the `kubernetes` Service (apiserver_service.ts). */
    apiserverRelay?: StartedProcess;
    /** The process keeping the other Services' routes (service_routes_sync.ts). */
    serviceRoutes?: StartedProcess;
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
    // The operator as users run it (helm install, kubectl apply -k), from this checkout.
    images.push(
      await buildImage(
        await operatorImageSpec(await bundleOperator(), undefined, undefined, caBundle),
      ),
    );
    images.push(await buildImage(await corednsImageSpec()));
    await importImages(socket, images);

    // Pods reach the apiserver at the `kubernetes` Service, as in-cluster clients expect.
    const service = await startApiserverService(c, net);
    node.processes.apiserverRelay = service.relay;
    node.processes.serviceRoutes = service.routes;
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
    // Applied, not awaited: a test that resolves names waits for it (waitForClusterDns).
    await startClusterDns(c);
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
  const { kubelet } = node.processes ?? {};
  let { containerd } = node.processes ?? {};
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
  // An unrecorded routes process (a start cut short) first: it would write the chain again.
  await stopProcesses(await processesMentioning(join(c.dir, "service-routes") + "/"), 2_000);
  await stopApiserverService(
    { relay: node.processes?.apiserverRelay, routes: node.processes?.serviceRoutes },
    node.bridge,
  );
  await stopNetworkPolicies(node.processes?.networkPolicies, node.bridge);
  // One whose start was cut short before it was recorded: found by its queue number.
  for (const p of await leftoverNetworkPolicies(c.name)) {
    await stopNetworkPolicies(p, node.bridge);
  }
  // A run that was killed: containerd died with it, its shims and pods did not (a shim
  // leaves its parent at start). A containerd on the same state finds them again.
  if (!isOurs(containerd)) containerd = await cleanupContainerd(c, node.containerdSocket);
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
  for (const sub of ["kubelet", "containerd", "apiserver-relay", "service-routes"]) {
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

/** A containerd for the cleanup of a killed run's shims, when it left any; else undefined. */
async function cleanupContainerd(
  c: ClusterRef,
  socket: string,
): Promise<StartedProcess | undefined> {
  const config = join(c.dir, "containerd", "config.toml");
  const shims = await processesMentioning(join(c.dir, "containerd") + "/");
  if (shims.length === 0 || !(await Deno.stat(config).then(() => true, () => false))) return;
  await Deno.mkdir(join(c.dir, "logs"), { recursive: true });
  const cleaner = await startProcess("containerd-cleanup", c.dir, "containerd", [
    "--config",
    config,
  ]);
  try {
    await waitFor("containerd (cleanup)", async () => !!(await ctr(socket, ["version"])), 30_000);
    return cleaner;
  } catch {
    await stopProcesses([cleaner], 5_000);
    return undefined;
  }
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
