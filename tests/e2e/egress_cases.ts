// Egress per Agent, enforced on the real node by its NetworkPolicy engine
// (kube-network-policies): a Restricted Agent reaches what it allows and
// nothing else; its Tasks still clone their Git contexts without the Agent
// listing the git host (each Task's pod gets a policy of its own for it); an
// Unrestricted one reaches everything; another policy that re-opens egress
// raises the Agent's condition, and an AdminNetworkPolicy Deny (judged before
// NetworkPolicies) closes it again; the policy goes with its Agent.
//
// What a Restricted Agent must not reach: the scripted model server
// (localcluster/model_server/) on the bridge's address (the host itself, where
// the git server listens on another port) and an HTTP server in a pod on the
// real node (a busybox httpd). See localcluster/realnode/network_policies.ts
// for how the node judges both.
//
// DNS: the Restricted default's DNS rule is checked as written in the policy
// here; the real node's CoreDNS (k8s-app=kube-dns, localcluster/realnode/
// cluster_dns.ts) is resolved against in cluster_dns.test.ts.
//
// The cases shared by the host-process operator (egress.test.ts) and the one
// the chart installs (installed_operator.test.ts).
import assert from "assert";
import {
  condition,
  type HarnessOptions,
  type Json,
  TaskHarness,
} from "../integration/task/harness.ts";
import { eventually, kubectl } from "../integration/env.ts";
import { type GitServer, startGitServer } from "../../localcluster/git_server.ts";
import { type ModelServer, startModelServer } from "../../localcluster/model_server/mod.ts";
import { REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node_config.ts";
import {
  agentLog,
  ECHO_AGENT_IMAGE,
  REAL_NODE_SETTINGS,
  realNode,
  realNodeAgent,
} from "./real_node.ts";

const PORT = 8080;

/** A pod on the real node answering "reachable" over HTTP; its IP. */
export async function startTarget(h: TaskHarness): Promise<string> {
  await h.apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "target", labels: { app: "target" } },
    spec: {
      ...REAL_NODE_SCHEDULING,
      automountServiceAccountToken: false,
      containers: [{
        name: "httpd",
        image: ECHO_AGENT_IMAGE,
        command: [
          "sh",
          "-c",
          `mkdir -p /tmp/www && echo reachable > /tmp/www/index.html && ` +
          `exec httpd -f -p ${PORT} -h /tmp/www`,
        ],
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          runAsNonRoot: true,
          runAsUser: 65532,
        },
      }],
    },
  });
  return await eventually("the target pod runs", async () => {
    const pod = await h.get("pod", "target");
    return pod?.status?.phase === "Running" && pod.status.podIP
      ? pod.status.podIP as string
      : undefined;
  }, 120_000);
}

/**
 * The agent: waits for the engine to learn its pod's IP (it learns it from
 * the apiserver; without NRI a first packet can beat it), then tries each
 * endpoint ("ip:port/path") with a short timeout and says what happened.
 */
export function probe(endpoints: string[]): string[] {
  // busybox wget's own -T crashes (a segmentation fault) once it expires: timeout(1) instead.
  return [
    "sh",
    "-c",
    `sleep 5; ls /workspace/repo; for e in ${endpoints.join(" ")}; do ` +
    `out=$(timeout 5 wget -q -O - http://$e 2>&1); rc=$?; ` +
    `if [ $rc = 0 ]; then echo "ALLOWED $e: $out"; ` +
    `elif [ $rc = 143 ]; then echo "BLOCKED $e: no answer in 5s, connection timed out"; ` +
    `else echo "BLOCKED $e: $out (exit $rc)"; fi; done`,
  ];
}

/** What each target answers: the pod's httpd its page, the model server its model list. */
export const ANSWER: Record<string, string> = {
  pod: "reachable",
  model: '\\{"object":"list","data":\\[\\],"models":\\[\\]\\}',
};
const escape = (e: string) => e.replaceAll(".", "\\.");
export const allowed = (e: string, answer: string) =>
  new RegExp(`^ALLOWED ${escape(e)}: ${answer}$`, "m");
export const blocked = (e: string) =>
  new RegExp(`^BLOCKED ${escape(e)}: no answer in 5s, connection timed out$`, "m");
export const ruleFor = (e: string) => {
  const [ip, port] = e.split("/")[0].split(":");
  return { cidr: `${ip}/32`, ports: [{ port: Number(port) }] };
};

/** An AdminNetworkPolicy denying one Agent's pods each target's address and port. */
export function pinnedDeny(
  name: string,
  namespace: string,
  agentUid: string,
  targets: string[],
): Json {
  return {
    apiVersion: "policy.networking.k8s.io/v1alpha1",
    kind: "AdminNetworkPolicy",
    metadata: { name },
    spec: {
      priority: 10,
      subject: {
        pods: {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
          podSelector: { matchLabels: { "kubetask.io/agent-uid": agentUid } },
        },
      },
      egress: targets.map((e, i) => {
        const { cidr, ports } = ruleFor(e);
        return {
          name: `deny-target-${i}`,
          action: "Deny",
          to: [{ networks: [cidr] }],
          ports: [{ portNumber: { protocol: "TCP", port: ports[0].port } }],
        };
      }),
    },
  };
}

export async function runTask(h: TaskHarness, name: string, agent: string): Promise<string> {
  await h.task(name, {
    agentRef: agent,
    contexts: [{ name: "repo", mountPath: "/workspace/repo" }],
  });
  await h.waitForPhase(name, "Completed", 180_000).catch(async (err) => {
    const t = await h.get("task", name);
    throw new Error(`${name}: ${JSON.stringify(condition(t, "Succeeded"))}: ${err}`);
  });
  const log = await agentLog(h, name);
  console.error(`[e2e] ${name}:\n${log}`);
  return log;
}

export async function egressStatus(h: TaskHarness, agent: string): Promise<Json> {
  return await eventually(`Agent ${agent} reports its egress`, async () => {
    const a = await h.get("agent", agent);
    return a?.status?.observedGeneration === a?.metadata?.generation && a?.status?.egress
      ? a.status
      : undefined;
  });
}

/** The targets and servers of the egress cases, and the harness whose operator enforces egress. */
export interface EgressWorld {
  h: TaskHarness;
  server: GitServer;
  model: ModelServer;
  /** "ip:port/path" of the model server's model list and of the pod's page. */
  modelTarget: string;
  podTarget: string;
  targets: string[];
  answer(e: string): string;
  git: URL;
  /** An egress rule allowing the git server. */
  gitRule: Json;
  /** Requests the model server saw for its model list. */
  modelCalls(): number;
  close(): Promise<void>;
}

/** harness: where the operator runs (default: in-process, with the egress controller). */
export async function startEgressWorld(
  harness: HarnessOptions = { egress: true, settings: () => REAL_NODE_SETTINGS },
): Promise<EgressWorld> {
  const server = await startGitServer(realNode!.gateway);
  const model = await startModelServer({ hostname: realNode!.gateway, scripts: [] });
  const h = await TaskHarness.start(harness);
  const close = async () => {
    await h.cleanup();
    await server.close();
    await model.close();
  };
  try {
    const modelTarget = `${new URL(model.url).host}/v1/models`;
    const podTarget = `${await startTarget(h)}:${PORT}/`;
    const git = new URL(server.url);
    await h.context("repo", { type: "Git", git: { repository: server.url, path: "docs" } });
    return {
      h,
      server,
      model,
      modelTarget,
      podTarget,
      targets: [modelTarget, podTarget],
      answer: (e) => e === modelTarget ? ANSWER.model : ANSWER.pod,
      git,
      gitRule: { cidr: `${git.hostname}/32`, ports: [{ port: Number(git.port) }] },
      modelCalls: () => model.requests.filter((r) => r.path === "/v1/models").length,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A Restricted Agent that lists neither target nor the git server: its Task
 * clones (through the Task's own Git policy) and reaches neither target.
 */
export async function restrictedCase(w: EgressWorld): Promise<void> {
  const { h, targets, git } = w;
  // Restricted, and the git server not listed (it listens on the model server's address,
  // another port): the Task's own Git egress policy lets its clone through; the model
  // server and the pod stay closed.
  await h.agent(
    "restricted",
    realNodeAgent({ command: probe(targets), egress: { mode: "Restricted" } }),
  );
  const status = await egressStatus(h, "restricted");
  assert.deepEqual(status.egress, {
    mode: "Restricted",
    networkPolicy: "kubetask-egress-restricted",
  });
  const policy = await h.get("networkpolicy", "kubetask-egress-restricted");
  assert.equal(policy?.metadata?.ownerReferences?.[0]?.kind, "Agent");
  console.error(`[e2e] the operator's NetworkPolicy:\n${await kubectl([
    "get",
    "networkpolicy",
    "-n",
    h.ns,
    "kubetask-egress-restricted",
    "-o",
    "yaml",
    "--show-managed-fields=false",
  ])}`);
  assert.deepEqual(
    policy?.spec?.egress?.[0]?.to,
    [{
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
      podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
    }],
    "the DNS rule: cluster DNS only",
  );
  assert.equal(policy?.spec?.egress?.length, 1, "DNS and nothing else: no git host listed");
  const closed = await runTask(h, "blocked", "restricted");
  assert.match(closed, /^guide\.md$/m, "the clone worked without the git host listed");
  for (const e of targets) assert.match(closed, blocked(e));
  assert.equal(w.modelCalls(), 0, "the model server saw no request");
  const task = await h.get("task", "blocked");
  const gitPolicy = "kubetask-git-blocked";
  assert.deepEqual(task!.status.egress, {
    mode: "Restricted",
    networkPolicy: "kubetask-egress-restricted",
    git: {
      networkPolicy: gitPolicy,
      allowed: [`${git.host} -> ${git.hostname}/32`],
      message: task!.status.egress.git.message,
    },
  });
  assert.match(task!.status.egress.git.message, /lets this Task's pod alone reach/);
  const written = await h.get("networkpolicy", gitPolicy);
  assert.equal(written?.metadata?.ownerReferences?.[0]?.kind, "Task");
  assert.equal(
    written?.spec?.podSelector?.matchLabels?.["kubetask.io/task-uid"],
    task!.metadata.uid,
    "it selects this Task's pod alone",
  );
  console.error(`[e2e] the Task's Git egress NetworkPolicy:\n${await kubectl([
    "get",
    "networkpolicy",
    "-n",
    h.ns,
    gitPolicy,
    "-o",
    "yaml",
    "--show-managed-fields=false",
  ])}`);
  // Not an additive trap: it opens nothing for the Agent's other pods.
  const notBypassed = (await h.get("agent", "restricted"))?.status?.conditions?.find((
    c: Json,
  ) => c.type === "EgressBypassed");
  assert.equal(notBypassed?.status, "False");
}
