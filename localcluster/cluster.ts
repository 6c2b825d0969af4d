// A real local control plane on loopback: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (a simulated kubelet with
// one fake node), each a process started by PID and stopped by PID.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ControlPlaneBinaries, ensureBinaries, ensureKueue } from "./binaries.ts";
import { createPki, type Pki, SERVICE_CLUSTER_IP_RANGE } from "./pki.ts";
import { makePrivateDir, writePrivateFile } from "./private_files.ts";
import { checkClusterName, clusterStateDir } from "./paths.ts";
import {
  auditLogPath,
  auditPolicyYaml,
  operatorBindingYaml,
  operatorTokenLine,
} from "./operator_identity.ts";
import {
  freePort,
  isOurs,
  kubectl,
  type StartedProcess,
  startProcess,
  stopProcesses,
  thisProcess,
  waitFor,
} from "./process.ts";
import { type KueueOptions, type KueueState, startKueue } from "./kueue.ts";
import { realNodeUnavailable } from "./realnode/host.ts";
import { type RealNode, startRealNode, stopRealNode, unrecordedNode } from "./realnode/node.ts";
import { bridgeOf, deleteBridge } from "./realnode/network.ts";
import { removeServiceRoutes } from "./realnode/apiserver_service.ts";
import { removeDiversion, stopNetworkPolicies } from "./realnode/network_policies.ts";

export interface ClusterState {
  name: string;
  dir: string;
  kubeconfig: string;
  server: string;
  kubectl: string;
  /**
   * The process that started the cluster: every component is its child and dies
   * with it; `down` from elsewhere asks it (SIGTERM) to tear down first.
   */
  owner?: StartedProcess;
  /** Set once everything is up (`cluster up` waits for it). */
  ready?: boolean;
  /** Each component's process, checked to be still the same one before it is signalled. */
  processes: Record<string, StartedProcess>;
  /** Before processes were recorded: PIDs alone (read from an older state.json). */
  pids?: Record<string, number>;
  /** How each component was started, so a test can restart it on the same port. */
  commands: Record<string, { binary: string; args: string[] }>;
  etcdUrl: string;
  /** With UpOptions.auditedOperator: the operator's own kubeconfig and token. */
  operatorKubeconfig?: string;
  operatorToken?: string;
  /** The real node (kubelet + containerd), when this machine can run one. */
  realNode?: RealNode;
  /** Why there is no real node (not root, disabled, packages missing). */
  realNodeUnavailable?: string;
  /** With UpOptions.kueue: the real Kueue admitting Jobs that name a LocalQueue. */
  kueue?: KueueState;
}

const stagesFile = join(dirname(fileURLToPath(import.meta.url)), "kwok-stages.yaml");

export const FAKE_NODE = "kwok-node-0";

/** A kubeconfig for `token` at `server` (the local cluster's CA file). */
export function kubeconfigYaml(server: string, caFile: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: kubetask-local
  cluster:
    server: ${server}
    certificate-authority: ${caFile}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: kubetask-local
  context:
    cluster: kubetask-local
    user: admin
current-context: kubetask-local
`;
}

export async function readState(name: string): Promise<ClusterState | undefined> {
  const file = join(clusterStateDir(name), "state.json"); // an invalid name throws, never "absent"
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch {
    return undefined;
  }
}

/** state.json is private: it holds the operator's token when there is one. */
function saveState(state: ClusterState): Promise<void> {
  return writePrivateFile(join(state.dir, "state.json"), JSON.stringify(state, null, 2));
}

export interface UpOptions {
  /**
   * Give an operator under measurement its own user (kubeconfig
   * `operator.kubeconfig` in the state dir) and audit-log only its requests
   * (see operator_identity.ts).
   */
  auditedOperator?: boolean;
  /**
   * Add a real node (kubelet + containerd) where the machine allows it
   * (default: yes; KUBETASK_REAL_NODE=0 turns it off everywhere).
   */
  realNode?: boolean;
  /**
   * Start the real Kueue (localcluster/kueue.ts): its CRDs, its manager out of
   * cluster, its webhooks over loopback. Off by default (it costs a build once
   * and a few seconds per start). An object sets Kueue's client limits.
   */
  kueue?: boolean | KueueOptions;
}

/** Starts a fresh cluster named `name`; a previous one of that name is stopped first. */
export async function up(name = "default", options: UpOptions = {}): Promise<ClusterState> {
  checkClusterName(name); // before a build that takes minutes
  const bin: ControlPlaneBinaries = await ensureBinaries();
  if (options.kueue) await ensureKueue(); // a build of minutes, once: before anything starts
  await down(name);
  const { state, pki } = await freshState(name, bin);
  try {
    await startEtcd(state, bin, pki);
    await startApiserver(state, bin, pki, options);
    await startControllers(state, bin, pki);
    await addFakeNode(state);
    await waitForDefaultServiceAccount(state);
    if (options.kueue) {
      const started = performance.now();
      state.kueue = await startKueue(
        state,
        pki,
        typeof options.kueue === "object" ? options.kueue : {},
      );
      await saveState(state);
      console.error(
        `[cluster] kueue ready in ${((performance.now() - started) / 1000).toFixed(1)}s`,
      );
    }
    if (options.realNode !== false) await addRealNode(state, pki);
    state.ready = true;
    await saveState(state);
    return state;
  } catch (err) {
    await down(name);
    throw err;
  }
}

/** The cluster's private folder with its PKI, and a state that has started nothing yet. */
async function freshState(
  name: string,
  bin: ControlPlaneBinaries,
): Promise<{ state: ClusterState; pki: Pki }> {
  const dir = clusterStateDir(name);
  // Private: it holds the keys, tokens and kubeconfigs (and logs that may quote them).
  await makePrivateDir(dir);
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  const pki: Pki = await createPki(join(dir, "pki"));
  const state: ClusterState = {
    name,
    dir,
    kubeconfig: join(dir, "admin.kubeconfig"),
    server: "",
    kubectl: bin.kubectl,
    owner: thisProcess(),
    processes: {},
    commands: {},
    etcdUrl: "",
  };
  return { state, pki };
}

/** Starts one component and records how, so that it can be stopped and restarted by name. */
async function launch(
  state: ClusterState,
  component: string,
  binary: string,
  args: string[],
): Promise<void> {
  state.commands[component] = { binary, args };
  state.processes[component] = await startProcess(component, state.dir, binary, args);
}

async function startEtcd(state: ClusterState, bin: ControlPlaneBinaries, pki: Pki): Promise<void> {
  const { dir, processes } = state;
  const etcdPort = freePort();
  const peerPort = freePort();
  // Clients and the peer port speak TLS and must show a certificate of the cluster CA:
  // any local user could otherwise read and write every object, Secrets included.
  state.etcdUrl = `https://127.0.0.1:${etcdPort}`;
  const peerUrl = `https://127.0.0.1:${peerPort}`;
  await launch(state, "etcd", bin.etcd, [
    "--name=local",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${state.etcdUrl}`,
    `--advertise-client-urls=${state.etcdUrl}`,
    `--cert-file=${pki.etcdCert}`,
    `--key-file=${pki.etcdKey}`,
    "--client-cert-auth",
    `--trusted-ca-file=${pki.caCert}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=local=${peerUrl}`,
    `--peer-cert-file=${pki.etcdCert}`,
    `--peer-key-file=${pki.etcdKey}`,
    "--peer-client-cert-auth",
    `--peer-trusted-ca-file=${pki.caCert}`,
    "--listen-metrics-urls=",
    "--unsafe-no-fsync",
    "--log-level=warn",
  ]);
  await saveState(state);
  const etcdClient = await etcdHttpClient(pki);
  await waitFor(
    "etcd",
    async () => (await fetch(`${state.etcdUrl}/health`, { client: etcdClient })).ok,
    30_000,
    processes["etcd"].pid,
    join(dir, "logs", "etcd.log"),
  );
  etcdClient.close();
}

/** The apiserver, ready; the admin kubeconfig, and the audited operator's identity if asked. */
async function startApiserver(
  state: ClusterState,
  bin: ControlPlaneBinaries,
  pki: Pki,
  options: UpOptions,
): Promise<void> {
  const { dir, processes } = state;
  const apiPort = freePort();
  state.server = `https://127.0.0.1:${apiPort}`;
  const extraArgs: string[] = [];
  if (options.auditedOperator) {
    const token = crypto.randomUUID().replaceAll("-", "");
    await writePrivateFile(pki.tokenFile, operatorTokenLine(token), { append: true });
    const policy = join(dir, "audit-policy.yaml");
    await Deno.writeTextFile(policy, auditPolicyYaml());
    extraArgs.push(`--audit-policy-file=${policy}`, `--audit-log-path=${auditLogPath(dir)}`);
    state.operatorKubeconfig = join(dir, "operator.kubeconfig");
    state.operatorToken = token;
  }
  await launch(state, "kube-apiserver", bin.apiserver, [
    ...apiserverArgs(state, pki, apiPort),
    ...extraArgs,
  ]);
  await saveState(state);
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(pki.caCert)] });
  await waitFor(
    "kube-apiserver",
    async () => {
      const res = await fetch(`${state.server}/readyz`, {
        client,
        headers: { authorization: `Bearer ${pki.adminToken}` },
      });
      await res.body?.cancel();
      return res.ok;
    },
    90_000,
    processes["kube-apiserver"].pid,
    join(dir, "logs", "kube-apiserver.log"),
  );
  client.close();
  await writePrivateFile(
    state.kubeconfig,
    kubeconfigYaml(state.server, pki.caCert, pki.adminToken),
  );
  if (state.operatorKubeconfig && state.operatorToken) {
    await writePrivateFile(
      state.operatorKubeconfig,
      kubeconfigYaml(state.server, pki.caCert, state.operatorToken),
    );
    await kubectl(state, ["apply", "-f", "-"], operatorBindingYaml());
  }
}

/** kube-controller-manager, kube-scheduler and kwok. */
async function startControllers(
  state: ClusterState,
  bin: ControlPlaneBinaries,
  pki: Pki,
): Promise<void> {
  await launch(state, "kube-controller-manager", bin.controllerManager, [
    `--kubeconfig=${state.kubeconfig}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    // The fake node has no real kubelet heartbeats to judge; tests need it schedulable.
    "--controllers=*,-nodelifecycle,-cloud-node-lifecycle",
    "--leader-elect=false",
    "--secure-port=0",
    "--concurrent-gc-syncs=5",
  ]);
  await launch(state, "kube-scheduler", bin.scheduler, [
    `--kubeconfig=${state.kubeconfig}`,
    "--leader-elect=false",
    "--secure-port=0",
  ]);
  await launch(state, "kwok", bin.kwok, [
    `--kubeconfig=${state.kubeconfig}`,
    "--manage-all-nodes=false",
    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
    `--config=${stagesFile}`,
    `--server-address=127.0.0.1:${freePort()}`,
    "--node-ip=10.200.0.1",
    "--cidr=10.200.0.0/16",
  ]);
  await saveState(state);
}

/** kwok's node, Ready and schedulable. */
async function addFakeNode(state: ClusterState): Promise<void> {
  await kubectl(state, ["apply", "-f", "-"], fakeNodeManifest());
  await waitFor(
    "fake node Ready",
    async () => {
      const out = await kubectl(state, [
        "get",
        "node",
        FAKE_NODE,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return out.trim() === "True";
    },
    60_000,
    state.processes["kwok"].pid,
    join(state.dir, "logs", "kwok.log"),
  );
  // Admission taints new nodes not-ready; the node lifecycle controller (off
  // here, see above) would lift it once Ready, so lift it by hand.
  await kubectl(state, ["taint", "node", FAKE_NODE, "node.kubernetes.io/not-ready:NoSchedule-"])
    .catch(() => {});
}

/** The controller manager has made namespace default's ServiceAccount: pods can be created. */
async function waitForDefaultServiceAccount(state: ClusterState): Promise<void> {
  await waitFor(
    "default ServiceAccount",
    async () => {
      await kubectl(state, ["get", "serviceaccount", "default", "-n", "default"]);
      return true;
    },
    60_000,
    state.processes["kube-controller-manager"].pid,
    join(state.dir, "logs", "kube-controller-manager.log"),
  );
}

/** The real node where this machine can run one; else the reason why not, in the state. */
async function addRealNode(state: ClusterState, pki: Pki): Promise<void> {
  state.realNodeUnavailable = await realNodeUnavailable();
  if (state.realNodeUnavailable) {
    console.error(`[cluster] no real node: ${state.realNodeUnavailable}`);
    return;
  }
  const started = performance.now();
  state.realNode = await startRealNode({ ...state, caCert: pki.caCert });
  watchApiserver(state);
  await saveState(state);
  console.error(
    `[cluster] real node ${state.realNode.node} Ready in ${
      ((performance.now() - started) / 1000).toFixed(1)
    }s (bridge ${state.realNode.bridge}, ${state.realNode.subnet})`,
  );
}

/** How long the apiserver may be gone (a test restarting it) before its node's engine is stopped. */
const APISERVER_GONE_MS = 30_000;
const watchdogs = new Map<string, ReturnType<typeof setInterval>>();

/**
 * kube-network-policies retries its apiserver without pause and logs every
 * try: once the apiserver has been gone for APISERVER_GONE_MS, the engine is
 * stopped (its diversion removed first, so no packet waits on its queue).
 */
function watchApiserver(state: ClusterState): void {
  let goneSince: number | undefined;
  const timer = setInterval(async () => {
    const engine = state.realNode?.processes.networkPolicies;
    if (!state.realNode || !isOurs(engine)) return stopWatching(state.name);
    if (isOurs(state.processes["kube-apiserver"])) {
      goneSince = undefined;
      return;
    }
    goneSince ??= Date.now();
    if (Date.now() - goneSince < APISERVER_GONE_MS) return;
    stopWatching(state.name);
    console.error(`[cluster] ${state.name}: apiserver gone, stopping kube-network-policies`);
    await stopNetworkPolicies(engine, state.realNode.bridge);
  }, 2_000);
  Deno.unrefTimer(timer);
  watchdogs.set(state.name, timer);
}

function stopWatching(name: string): void {
  clearInterval(watchdogs.get(name));
  watchdogs.delete(name);
}

/** An HTTP client that etcd accepts: the apiserver's etcd client certificate. */
export async function etcdHttpClient(
  pki: Pick<Pki, "caCert" | "etcdClientCert" | "etcdClientKey">,
): Promise<Deno.HttpClient> {
  return Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(pki.caCert)],
    cert: await Deno.readTextFile(pki.etcdClientCert),
    key: await Deno.readTextFile(pki.etcdClientKey),
  });
}

function apiserverArgs(state: ClusterState, pki: Pki, port: number): string[] {
  return [
    `--etcd-servers=${state.etcdUrl}`,
    `--etcd-cafile=${pki.caCert}`,
    `--etcd-certfile=${pki.etcdClientCert}`,
    `--etcd-keyfile=${pki.etcdClientKey}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--token-auth-file=${pki.tokenFile}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    "--allow-privileged=true",
    // API Priority and Fairness stays on, its default: every real cluster queues and rejects
    // (429 with Retry-After) what it cannot serve, and the operator must ride that out.
    // Logs and exec on the real node: the kubelet listens on its bridge's address (a node IP
    // cannot be loopback; the address is this machine's own) and trusts this CA.
    `--kubelet-client-certificate=${pki.kubeletClientCert}`,
    `--kubelet-client-key=${pki.kubeletClientKey}`,
    "--kubelet-preferred-address-types=InternalIP",
    "--profiling=false",
  ];
}

function fakeNodeManifest(): string {
  return `apiVersion: v1
kind: Node
metadata:
  name: ${FAKE_NODE}
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: ${FAKE_NODE}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
`;
}

/**
 * Stops every process the cluster started (by PID) and removes what it made:
 * also what a run that was killed left (its owner gone, its children with it,
 * but shims, pods, mounts, netns, the bridge and the iptables chains remain).
 */
export async function down(name = "default"): Promise<void> {
  const dir = clusterStateDir(name);
  stopWatching(name);
  let state = await readState(name);
  // An owner alive elsewhere (`cluster up`'s server, a demo) tears down on SIGTERM itself.
  if (state?.owner && state.owner.pid !== Deno.pid && isOurs(state.owner)) {
    await stopProcesses([state.owner], 120_000);
    state = await readState(name);
  }
  // The real node first, while the apiserver still answers (its pods are deleted properly).
  // A node whose start was cut short is not in the state yet: found by its folder.
  const startedNode = await Deno.stat(join(dir, "containerd")).then(() => true, () => false);
  if (state && (state.realNode || startedNode)) {
    await stopRealNode(
      { ...state, caCert: join(dir, "pki", "ca.crt") },
      state.realNode ?? unrecordedNode(name, dir),
    );
  }
  if (state) {
    // Reverse start order: clients of the apiserver first, etcd last.
    await stopProcesses(recordedProcesses(state).reverse(), 10_000);
  }
  // Named after the cluster: found even when no state recorded them.
  await removeDiversion(bridgeOf(name));
  await removeServiceRoutes(bridgeOf(name));
  await deleteBridge(bridgeOf(name));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Stops one component (e.g. "kube-apiserver") to test how clients ride out an outage. */
export async function stopComponent(state: ClusterState, component: string): Promise<void> {
  await stopProcesses([state.processes[component]], 15_000);
}

/**
 * The processes a state file records. An older one has PIDs only: their
 * command lines are still checked against how they were started.
 */
function recordedProcesses(state: ClusterState): StartedProcess[] {
  if (state.processes) return Object.values(state.processes);
  return Object.entries(state.pids ?? {}).map(([component, pid]) => {
    const command = state.commands?.[component];
    return { pid, argv: command ? [command.binary, ...command.args] : [] };
  }).filter((p) => p.argv.length > 0);
}

/** Starts a stopped component again with the same flags (and so the same port). */
export async function startComponent(state: ClusterState, component: string): Promise<void> {
  const { binary, args } = state.commands[component];
  state.processes[component] = await startProcess(component, state.dir, binary, args);
  await saveState(state);
}

export { kubectl };
