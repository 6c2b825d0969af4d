// The nat rules that make a cluster's ClusterIP Services reachable from the
// pods of its real node, as kube-proxy's iptables mode would, but in one chain
// of ours (apiserver_service.ts's, entered only from this cluster's bridge)
// rewritten whole by `iptables-restore --noflush` (service_routes_sync.ts
// applies them). Pure: Services and EndpointSlices in, restore text out.
//
// Each Service port is DNATed to its ready endpoints, spread by `statistic
// random` (rule i of n matches with probability 1/(n-i), the last always).
// The slice's port, matched by the Service port's name, is the target port
// already resolved (a named targetPort included). A port with no ready
// endpoint is refused instead, as kube-proxy does (REJECT in a filter chain
// of ours, entered from the bridge's FORWARD): a client sees "connection
// refused" at once and retries, where a packet that went nowhere would leave
// its connect waiting out TCP's SYN retries (about two minutes on Linux),
// e.g. while a Deployment of strategy Recreate replaces its pod. The
// `kubernetes` Service is
// not taken from its slice (its endpoint is the apiserver on loopback, which
// a pod cannot reach): it goes to the relay instead.
//
// What the objects hold is input from the cluster: anything that is not an
// IPv4 address, a port number or a DNS name is left out rather than written
// into a rule.

/** What the rules are made of, as `kubectl get ... -o json` gives it. */
// deno-lint-ignore no-explicit-any
export type KubeObject = Record<string, any>;

export interface Endpoint {
  ip: string;
  port: number;
}

export interface ServicePortRoute {
  /** "namespace/name:port-name" (no port name: the number). */
  comment: string;
  clusterIP: string;
  protocol: "tcp" | "udp";
  port: number;
  endpoints: Endpoint[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

function protocolOf(p: unknown): "tcp" | "udp" | undefined {
  const proto = p ?? "TCP";
  return proto === "TCP" ? "tcp" : proto === "UDP" ? "udp" : undefined;
}

/** The routes of every ClusterIP Service port but `default/kubernetes`, sorted. */
export function serviceRoutes(services: KubeObject[], slices: KubeObject[]): ServicePortRoute[] {
  const routes: ServicePortRoute[] = [];
  for (const svc of services) {
    const ns = svc?.metadata?.namespace, name = svc?.metadata?.name;
    const clusterIP = svc?.spec?.clusterIP;
    if (!DNS_NAME.test(String(ns)) || !DNS_NAME.test(String(name))) continue;
    if (typeof clusterIP !== "string" || !IPV4.test(clusterIP)) continue; // headless, IPv6
    if (ns === "default" && name === "kubernetes") continue; // the relay's
    const own = slices.filter((s) =>
      s?.metadata?.namespace === ns &&
      s?.metadata?.labels?.["kubernetes.io/service-name"] === name &&
      s?.addressType === "IPv4"
    );
    for (const sp of Array.isArray(svc.spec.ports) ? svc.spec.ports : []) {
      const protocol = protocolOf(sp?.protocol);
      const portName = sp?.name ?? "";
      if (!protocol || !isPort(sp?.port) || (portName && !DNS_NAME.test(portName))) continue;
      const endpoints = new Map<string, Endpoint>();
      for (const slice of own) {
        const match = (Array.isArray(slice.ports) ? slice.ports : []).find((p: KubeObject) =>
          (p?.name ?? "") === portName && protocolOf(p?.protocol) === protocol
        );
        if (!match || !isPort(match.port)) continue;
        for (const ep of Array.isArray(slice.endpoints) ? slice.endpoints : []) {
          // Unset means ready (the EndpointSlice API's rule); terminating ones say false.
          if (ep?.conditions?.ready === false) continue;
          for (const ip of Array.isArray(ep?.addresses) ? ep.addresses : []) {
            if (typeof ip === "string" && IPV4.test(ip)) {
              endpoints.set(`${ip}:${match.port}`, { ip, port: match.port });
            }
          }
        }
      }
      routes.push({
        comment: `${ns}/${name}:${portName || sp.port}`,
        clusterIP,
        protocol,
        port: sp.port,
        endpoints: [...endpoints.values()].sort((a, b) =>
          `${a.ip}:${a.port}`.localeCompare(`${b.ip}:${b.port}`)
        ),
      });
    }
  }
  return routes.sort((a, b) =>
    a.comment.localeCompare(b.comment) || a.protocol.localeCompare(b.protocol)
  );
}

/** One rule per endpoint, spread evenly: each matches 1/(what is left) of what reaches it. */
function dnatRules(chain: string, r: ServicePortRoute): string[] {
  const match = `-A ${chain} -d ${r.clusterIP}/32 -p ${r.protocol} --dport ${r.port} ` +
    `-m comment --comment "${r.comment}"`;
  return r.endpoints.map((ep, i) => {
    const left = r.endpoints.length - i;
    const spread = left > 1
      ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}`
      : "";
    return `${match}${spread} -j DNAT --to-destination ${ep.ip}:${ep.port}`;
  });
}

/** The filter chain refusing the Service ports of nat chain `chain` that have no ready endpoint. */
export function noEndpointsChain(chain: string): string {
  return `${chain}-NOEP`;
}

/**
 * The input of `iptables-restore --noflush`: declaring a chain empties it
 * (and creates it), so both chains are replaced in one restore and nothing
 * else in the nat and filter tables is touched. A port without ready
 * endpoints gets no DNAT rule but a REJECT in the filter chain.
 */
export function restoreText(
  chain: string,
  kubernetes: { clusterIP: string; relay: string },
  routes: ServicePortRoute[],
): string {
  const refuse = noEndpointsChain(chain);
  const lines = [
    "*nat",
    `:${chain} - [0:0]`,
    `-A ${chain} -d ${kubernetes.clusterIP}/32 -p tcp --dport 443 ` +
    `-m comment --comment "default/kubernetes:https" -j DNAT --to-destination ${kubernetes.relay}`,
  ];
  for (const r of routes) lines.push(...dnatRules(chain, r));
  lines.push("COMMIT", "*filter", `:${refuse} - [0:0]`);
  for (const r of routes.filter((r) => r.endpoints.length === 0)) {
    lines.push(
      `-A ${refuse} -d ${r.clusterIP}/32 -p ${r.protocol} --dport ${r.port} ` +
        `-m comment --comment "${r.comment} has no endpoints" -j REJECT`,
    );
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}
