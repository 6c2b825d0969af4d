// The cluster DNS of the real node, as kubeadm sets it up: CoreDNS (built
// from its Go module with only the plugins used here, ../coredns) as a
// Deployment in kube-system labelled k8s-app=kube-dns, behind the Service
// kube-dns at a fixed ClusterIP the kubelet writes into every pod's
// resolv.conf (node_config.ts). The Agents' egress policy allows exactly these
// pods on port 53 (controllers/egress/policy.ts).
//
// It answers for the cluster's zone (Services, their endpoints) and the
// reverse zones only: there is no `forward` to an upstream resolver, so a
// name outside cluster.local is refused (nothing on the node reaches beyond
// the host by name).
import { ensureCoreDNS } from "../binaries.ts";
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN } from "../pki.ts";
import { kubectl, waitFor } from "../process.ts";
import { busyboxBase, type ImageSpec } from "./images.ts";
import { REAL_NODE_SCHEDULING } from "./node_config.ts";

export const COREDNS_IMAGE = "kubetask.local/coredns:1";
const NAMESPACE = "kube-system";
const NAME = "coredns";
const NONROOT = 65532;

/** Only the binary and who runs it (a Corefile comes from the ConfigMap). */
export async function corednsImageSpec(): Promise<ImageSpec> {
  const { files } = busyboxBase();
  const passwd = files.get("etc/passwd")!;
  const group = files.get("etc/group")!;
  return {
    names: [COREDNS_IMAGE],
    files: new Map([
      ["coredns", { host: await ensureCoreDNS(), mode: 0o755 }],
      ["etc/passwd", passwd],
      ["etc/group", group],
    ]),
    symlinks: new Map(),
    dirs: new Map([["tmp", { mode: 0o1777 }]]),
    entrypoint: ["/coredns"],
    cmd: ["-conf", "/etc/coredns/Corefile"],
    env: [],
    user: `${NONROOT}:${NONROOT}`,
  };
}

/** What CoreDNS serves: the cluster's names, with health (liveness) and ready (readiness). */
export function corefile(): string {
  return `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loadbalance
}
`;
}

/** ServiceAccount, its read-only RBAC (as upstream's system:coredns), Corefile, Deployment, Service. */
export function clusterDnsManifests(): unknown[] {
  const labels = { "k8s-app": "kube-dns" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: NAMESPACE } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: `kubetask-local:${NAME}` },
      rules: [
        {
          apiGroups: [""],
          resources: ["endpoints", "services", "pods", "namespaces"],
          verbs: ["list", "watch"],
        },
        {
          apiGroups: ["discovery.k8s.io"],
          resources: ["endpointslices"],
          verbs: ["list", "watch"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: `kubetask-local:${NAME}` },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: `kubetask-local:${NAME}`,
      },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: NAMESPACE }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: NAME, namespace: NAMESPACE },
      data: { Corefile: corefile() },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: NAME, namespace: NAMESPACE, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            ...REAL_NODE_SCHEDULING,
            serviceAccountName: NAME,
            // Its own lookups (none: no forward) must not go to itself.
            dnsPolicy: "Default",
            securityContext: {
              runAsNonRoot: true,
              runAsUser: NONROOT,
              runAsGroup: NONROOT,
              seccompProfile: { type: "RuntimeDefault" },
              // Port 53 without any capability: a namespaced sysctl Kubernetes counts as safe.
              sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "53" }],
            },
            containers: [{
              name: NAME,
              image: COREDNS_IMAGE,
              imagePullPolicy: "Never",
              ports: [
                { name: "dns", containerPort: 53, protocol: "UDP" },
                { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
              ],
              livenessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 10 },
              readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
              resources: { limits: { memory: "128Mi" }, requests: { cpu: "50m", memory: "32Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                readOnlyRootFilesystem: true,
              },
              volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
            }],
            volumes: [{ name: "config", configMap: { name: NAME } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace: NAMESPACE, labels },
      spec: {
        clusterIP: CLUSTER_DNS_IP,
        selector: labels,
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
        ],
      },
    },
  ];
}

interface ClusterRef {
  kubeconfig: string;
  kubectl: string;
}

/** Applies it (the image is imported with the others); returns without waiting for the pod. */
export async function startClusterDns(c: ClusterRef): Promise<void> {
  const list = { apiVersion: "v1", kind: "List", items: clusterDnsManifests() };
  await kubectl(c, ["apply", "-f", "-"], JSON.stringify(list));
}

/** Resolves with the CoreDNS pod's IP once it is Ready. */
export async function waitForClusterDns(c: ClusterRef, timeoutMs = 120_000): Promise<string> {
  let ip = "";
  await waitFor("cluster DNS Ready", async () => {
    const out = await kubectl(c, [
      "get",
      "pods",
      "-n",
      NAMESPACE,
      "-l",
      "k8s-app=kube-dns",
      "-o",
      'jsonpath={range .items[*]}{.status.podIP}{" "}' +
      '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    ip = out.split("\n").map((l) => l.split(" ")).find(([, ready]) => ready === "True")?.[0] ?? "";
    return ip !== "";
  }, timeoutMs);
  return ip;
}
