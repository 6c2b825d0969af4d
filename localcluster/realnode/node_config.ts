// What the real node is configured as (node.ts starts and stops it): its name,
// its label and taint (only pods that ask for it, the e2e tests, land there;
// kwok's simulated node stays the default for everything else), and the
// config files of containerd, the CNI bridge and the kubelet.
import { join } from "node:path";
import { freePort } from "../process.ts";
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN, KUBELET_CLIENT_USER } from "../pki.ts";
import { CNI_BIN_DIR } from "./host.ts";
import type { NodeNetwork } from "./network.ts";
import { SANDBOX_IMAGE } from "./images.ts";

export const REAL_NODE = "kubetask-real-node";
/** Pods select the real node by this label and tolerate the taint of the same key. */
export const REAL_NODE_LABEL = "kubetask.io/node";
export const REAL_NODE_LABEL_VALUE = "real";
/** An Agent's podSpec.scheduling that puts its pods on the real node (tainted: only they run there). */
export const REAL_NODE_SCHEDULING = {
  nodeSelector: { [REAL_NODE_LABEL]: REAL_NODE_LABEL_VALUE },
  tolerations: [{ key: REAL_NODE_LABEL, operator: "Exists", effect: "NoSchedule" }],
};

export function containerdConfig(dir: string, socket: string): string {
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

export function cniConfig(name: string, dir: string, net: NodeNetwork): string {
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

export function kubeletConfig(dir: string, socket: string, caCert: string, ip: string): string {
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
      // Every pod's resolv.conf: the kube-dns Service (realnode/cluster_dns.ts) and the search path.
      clusterDNS: [CLUSTER_DNS_IP],
      clusterDomain: CLUSTER_DOMAIN,
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
