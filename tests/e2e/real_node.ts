// The real-node tier: Agents whose pods run on the local cluster's real
// kubelet, and what their processes printed. Skipped, with the reason on one
// line, where the cluster has no real node (not root, or disabled).
import { readState } from "../../localcluster/cluster.ts";
import { CLAUDE_CODE_IMAGE, ECHO_AGENT_IMAGE, GIT_IMAGE } from "../../agents/images.ts";
import { REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node_config.ts";
import { waitForClusterDns } from "../../localcluster/realnode/cluster_dns.ts";
import { kubectl as clusterKubectl } from "../../localcluster/process.ts";
import { eventually, kubectl } from "../integration/env.ts";
import type { Json, TaskHarness } from "../integration/task/harness.ts";
import type { JobSettings } from "../../controllers/task/job.ts";
import { operatorEntrypoint, operatorImage } from "../../localcluster/realnode/operator_image.ts";

export { ECHO_AGENT_IMAGE, GIT_IMAGE };

/**
 * The settings of an operator run on this machine for real-node pods: the
 * project's clone image, and the Git proxy sidecar from the local operator
 * image (imported when the node started), whose executable is the bundle run
 * by deno rather than the Dockerfile's /kubetask.
 */
export const REAL_NODE_SETTINGS: JobSettings = {
  gitImage: GIT_IMAGE,
  gitProxy: { image: operatorImage(), command: operatorEntrypoint() },
};

const cluster = await readState(Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test");
export const realNode = cluster?.realNode;
/** Why the e2e tier does not run here; undefined when it does. */
export const skipReason = !cluster
  ? "no local cluster (run through `deno task test`)"
  : realNode
  ? undefined
  : cluster.realNodeUnavailable ?? "the cluster was started without a real node";

// tests/run.ts says once why the tier is skipped; run directly, each file says it.
let announced = !!Deno.env.get("KUBETASK_REAL_NODE_SKIP_SAID");
/** Deno.test options for a real-node test: ignored (with the reason) without one. */
export function onRealNode(name: string): { name: string; ignore: boolean } {
  if (skipReason && !announced) {
    announced = true;
    console.error(`[e2e] real-node tests skipped: ${skipReason}`);
  }
  return { name, ignore: !!skipReason };
}

/** An Agent spec whose pods run on the real node with the local echo-agent image. */
export function realNodeAgent(spec: Json = {}): Json {
  return {
    agentImage: ECHO_AGENT_IMAGE,
    ...spec,
    podSpec: {
      ...spec.podSpec,
      scheduling: REAL_NODE_SCHEDULING,
    },
  };
}

/**
 * What the agent container printed, through the apiserver and the kubelet.
 * Retried for a while, the kubelet may be slow to serve a pod's log. (A 404 that
 * lasted in about one run in five was not the kubelet's: the Task had run on the
 * built-in Agent, whose pod went to the fake node, because the Agent "default"
 * applied just before it was not cached yet; the operator now asks first.)
 */
export async function agentLog(h: TaskHarness, task: string): Promise<string> {
  const t = await eventually(`Task ${task} has a Job`, async () => {
    const got = await h.get("task", task);
    return got?.status?.jobName ? got : undefined;
  });
  let lastError: unknown;
  const got = await eventually(`the log of job/${t.status.jobName}`, async () => {
    try {
      // Wrapped: an empty log is an answer too.
      return {
        log: await kubectl([
          "logs",
          "--request-timeout=30s",
          "-n",
          h.ns,
          `job/${t.status.jobName}`,
          "-c",
          "agent",
        ]),
      };
    } catch (err) {
      lastError = err;
      return undefined;
    }
  }, 90_000).catch(async (err) => {
    // What the next occurrence needs to find the cause: which pods the Job has, where, how.
    const pods = await kubectl([
      "get",
      "pods",
      "-n",
      h.ns,
      "-l",
      `batch.kubernetes.io/job-name=${t.status.jobName}`,
      "-o",
      "jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.spec.nodeName} " +
      "{.status.phase} {.status.reason} {.status.containerStatuses[*].state}{'\\n'}{end}",
    ]).catch((e) => `(pods unreadable: ${e})`);
    throw new Error(`${lastError ?? err}\nthe Job's pods:\n${pods}`);
  });
  // KUBETASK_E2E_SHOW_LOGS=1 shows what each agent printed (to quote it, or to debug a test).
  if (Deno.env.get("KUBETASK_E2E_SHOW_LOGS")) console.error(`[e2e] ${h.ns}/${task}:\n${got.log}`);
  return got.log;
}

/** The text between two marker lines (without the newline before the end marker). */
export function between(log: string, start: string, end: string): string {
  const from = log.indexOf(`${start}\n`);
  const to = log.indexOf(`\n${end}\n`, from);
  if (from < 0 || to < 0) throw new Error(`markers ${start} / ${end} not in:\n${log}`);
  return log.slice(from + start.length + 1, to);
}

/** Resolves once the CoreDNS pod is Ready (the node starts it: localcluster/realnode/cluster_dns.ts). */
export async function clusterDnsReady(): Promise<void> {
  const kubeconfig = Deno.env.get("KUBECONFIG");
  if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `deno task test`");
  await waitForClusterDns({ kubectl: "kubectl", kubeconfig });
}

/**
 * Runs `command` once in a pod of the Claude Code image (it has node and sh) on the real node,
 * as a restricted non-root user; resolves with its log once it ends. The pod gets a token only
 * when `serviceAccountName` is given.
 */
export async function runPodOnce(
  ns: string,
  name: string,
  command: string[],
  opts: { serviceAccountName?: string } = {},
): Promise<string> {
  const account = opts.serviceAccountName
    ? { serviceAccountName: opts.serviceAccountName }
    : { automountServiceAccountToken: false };
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      ...REAL_NODE_SCHEDULING,
      ...account,
      restartPolicy: "Never",
      containers: [{
        name: "once",
        image: CLAUDE_CODE_IMAGE,
        imagePullPolicy: "Never",
        command,
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          runAsNonRoot: true,
          runAsUser: 65532,
          seccompProfile: { type: "RuntimeDefault" },
        },
      }],
    },
  };
  await kubectl(["apply", "-f", "-"], JSON.stringify(pod));
  await eventually(`pod ${name} ends`, async () => {
    const phase = await kubectl(["get", "pod", "-n", ns, name, "-o", "jsonpath={.status.phase}"]);
    return phase === "Succeeded" || phase === "Failed";
  }, 120_000);
  const log = await kubectl(["logs", "-n", ns, name]);
  console.error(`[e2e] pod ${name}:\n${log.trim()}`);
  return log;
}

/**
 * Pod "sleeper" (sleeps an hour) on the real node of the cluster `state` describes, once Ready:
 * something for the kubelet to have mounted, linked and networked.
 */
export async function runSleeper(state: { kubectl: string; kubeconfig: string }): Promise<void> {
  await clusterKubectl(
    state,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "sleeper", namespace: "default" },
      spec: {
        ...REAL_NODE_SCHEDULING,
        automountServiceAccountToken: false,
        containers: [{ name: "c", image: ECHO_AGENT_IMAGE, command: ["sleep", "3600"] }],
      },
    }),
  );
  await clusterKubectl(state, ["wait", "pod/sleeper", "--for=condition=Ready", "--timeout=120s"]);
}
