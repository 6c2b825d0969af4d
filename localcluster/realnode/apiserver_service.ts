// The `kubernetes` Service on the real node, as a real cluster has it: a pod
// reaches the apiserver at the Service's ClusterIP on port 443, the address
// the kubelet gives every container in KUBERNETES_SERVICE_HOST/PORT and the
// one in-cluster clients (client-node's loadFromCluster, client-go's
// InClusterConfig) use. kube-proxy would DNAT that address to the apiserver's
// endpoint; here the apiserver listens on loopback only, which a pod cannot
// reach, so:
//   - a relay (apiserver_relay.ts) listens on the node's bridge address, on
//     the apiserver's own port, and passes each connection to the apiserver
//     on loopback, bytes unchanged (TLS end to end, the apiserver's
//     certificate names the ClusterIP: pki.ts);
//   - one nat chain of ours, entered only from this cluster's bridge, DNATs
//     ClusterIP:443 to that relay, as kube-proxy's KUBE-SERVICES would.
// Nothing on loopback becomes reachable from a pod (no route_localnet), and
// two clusters' pods (the same ClusterIP) each reach their own apiserver.
// The same chain routes every other ClusterIP Service to its ready endpoints
// (service_routes.ts), kept in step by a process started here
// (service_routes_sync.ts): the node has no kube-proxy, whose global chains
// two clusters on one machine would fight over.
import { join } from "node:path";
import { repoRoot } from "../paths.ts";
import { kubectl, type StartedProcess, startProcess, stopProcesses, waitFor } from "../process.ts";
import { iptables } from "./iptables.ts";
import { noEndpointsChain } from "./service_routes.ts";
import type { NodeNetwork } from "./network.ts";

interface ClusterRef {
  name: string;
  dir: string;
  kubeconfig: string;
  kubectl: string;
  /** The apiserver's URL, https://127.0.0.1:PORT. */
  server: string;
}

const RELAY = join(repoRoot, "localcluster", "realnode", "apiserver_relay.ts");
const ROUTES_SYNC = join(repoRoot, "localcluster", "realnode", "service_routes_sync.ts");

/** The last argument of a cluster's Service routes process, found by processesMentioning. */
export function routesTag(dir: string): string {
  return `${join(dir, "service-routes")}/`;
}

/** The last argument of a cluster's relay (a folder that never exists), found by processesMentioning. */
export function relayTag(dir: string): string {
  return `${join(dir, "apiserver-relay")}/`;
}

/** Our nat chain for a node's bridge (iptables allows 28 characters; a bridge name has 15). */
export function serviceChain(bridge: string): string {
  return `KT-SVC-${bridge}`;
}

/** The rules (iptables -t nat) that send the bridge's pods from `clusterIP`:443 to `relay`. */
export function serviceRules(bridge: string, clusterIP: string, relay: string): string[][] {
  const chain = serviceChain(bridge);
  return [
    ["-N", chain],
    [
      "-A",
      chain,
      "-d",
      `${clusterIP}/32`,
      "-p",
      "tcp",
      "--dport",
      "443",
      "-m",
      "comment",
      "--comment",
      "default/kubernetes:https",
      "-j",
      "DNAT",
      "--to-destination",
      relay,
    ],
    ["-A", "PREROUTING", "-i", bridge, "-j", chain],
  ];
}

/**
 * The rules (iptables -t filter) that send the bridge's forwarded packets through the chain
 * refusing Services without endpoints (service_routes.ts fills it), ahead of anything else.
 */
export function refusalRules(bridge: string): string[][] {
  const chain = noEndpointsChain(serviceChain(bridge));
  return [["-N", chain], ["-I", "FORWARD", "1", "-i", bridge, "-j", chain]];
}

/** Removes our chains and the jumps to them; nothing there is not an error. */
export async function removeServiceRoutes(bridge: string): Promise<void> {
  const chain = serviceChain(bridge);
  while ((await iptables(["-w", "-t", "nat", "-D", "PREROUTING", "-i", bridge, "-j", chain])).ok) {
    // One jump per start; a run that was killed may have left more.
  }
  await iptables(["-w", "-t", "nat", "-F", chain]);
  await iptables(["-w", "-t", "nat", "-X", chain]);
  const refuse = noEndpointsChain(chain);
  while ((await iptables(["-w", "-t", "filter", "-D", "FORWARD", "-i", bridge, "-j", refuse])).ok) {
    // As above.
  }
  await iptables(["-w", "-t", "filter", "-F", refuse]);
  await iptables(["-w", "-t", "filter", "-X", refuse]);
}

/**
 * Makes the `kubernetes` Service reachable from the pods of the node on
 * `net`: starts the relay and adds the chain, then the process that routes
 * the other Services through it. Returns both processes.
 */
export async function startApiserverService(
  c: ClusterRef,
  net: NodeNetwork,
): Promise<{ relay: StartedProcess; routes: StartedProcess }> {
  const clusterIP = (await kubectl(c, [
    "get",
    "service",
    "kubernetes",
    "-n",
    "default",
    "-o",
    "jsonpath={.spec.clusterIP}",
  ])).trim();
  const apiPort = new URL(c.server).port;
  const listen = `${net.gateway}:${apiPort}`;
  const target = `127.0.0.1:${apiPort}`;
  const relay = await startProcess("apiserver-relay", c.dir, Deno.execPath(), [
    "run",
    `--allow-net=${listen},${target}`,
    RELAY,
    listen,
    target,
    // Not read: it names the cluster, so `cluster down` finds a relay it did not record.
    relayTag(c.dir),
  ]);
  try {
    await waitFor(
      "apiserver relay",
      async () => {
        const conn = await Deno.connect({ hostname: net.gateway, port: Number(apiPort) });
        conn.close();
        return true;
      },
      30_000,
      relay.pid,
      join(c.dir, "logs", "apiserver-relay.log"),
    );
    await removeServiceRoutes(net.bridge);
    for (const rule of serviceRules(net.bridge, clusterIP, listen)) {
      const res = await iptables(["-w", "-t", "nat", ...rule]);
      if (!res.ok) throw new Error(`iptables -t nat ${rule.join(" ")}: ${res.err}`);
    }
    for (const rule of refusalRules(net.bridge)) {
      const res = await iptables(["-w", "-t", "filter", ...rule]);
      if (!res.ok) throw new Error(`iptables -t filter ${rule.join(" ")}: ${res.err}`);
    }
  } catch (err) {
    await stopApiserverService({ relay }, net.bridge);
    throw err;
  }
  const routes = await startProcess("service-routes", c.dir, Deno.execPath(), [
    "run",
    `--allow-run=${c.kubectl},iptables-restore`,
    `--allow-read=${c.kubeconfig}`,
    ROUTES_SYNC,
    c.kubectl,
    c.kubeconfig,
    serviceChain(net.bridge),
    listen,
    routesTag(c.dir),
  ]);
  return { relay, routes };
}

/** Stops the routes process (it would write the chain again), removes the chain, stops the relay. */
export async function stopApiserverService(
  processes: { relay?: StartedProcess; routes?: StartedProcess },
  bridge: string,
): Promise<void> {
  if (processes.routes) await stopProcesses([processes.routes], 5_000);
  await removeServiceRoutes(bridge);
  if (processes.relay) await stopProcesses([processes.relay], 5_000);
}
