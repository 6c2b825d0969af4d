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
import assert from "assert";
import { condition, type Json, TaskHarness } from "../integration/task/harness.ts";
import { eventually, kubectl } from "../integration/env.ts";
import { startGitServer } from "../../localcluster/git_server.ts";
import { startModelServer } from "../../localcluster/model_server/mod.ts";
import { REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node_config.ts";
import {
  agentLog,
  ECHO_AGENT_IMAGE,
  GIT_IMAGE,
  onRealNode,
  realNode,
  realNodeAgent,
} from "./real_node.ts";

const PORT = 8080;

/** A pod on the real node answering "reachable" over HTTP; its IP. */
async function startTarget(h: TaskHarness): Promise<string> {
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
function probe(endpoints: string[]): string[] {
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
const ANSWER: Record<string, string> = {
  pod: "reachable",
  model: '\\{"object":"list","data":\\[\\],"models":\\[\\]\\}',
};
const escape = (e: string) => e.replaceAll(".", "\\.");
const allowed = (e: string, answer: string) => new RegExp(`^ALLOWED ${escape(e)}: ${answer}$`, "m");
const blocked = (e: string) =>
  new RegExp(`^BLOCKED ${escape(e)}: no answer in 5s, connection timed out$`, "m");
const ruleFor = (e: string) => {
  const [ip, port] = e.split("/")[0].split(":");
  return { cidr: `${ip}/32`, ports: [{ port: Number(port) }] };
};

/** An AdminNetworkPolicy denying one Agent's pods each target's address and port. */
function pinnedDeny(name: string, namespace: string, agentUid: string, targets: string[]): Json {
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

async function runTask(h: TaskHarness, name: string, agent: string): Promise<string> {
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

async function egressStatus(h: TaskHarness, agent: string): Promise<Json> {
  return await eventually(`Agent ${agent} reports its egress`, async () => {
    const a = await h.get("agent", agent);
    return a?.status?.observedGeneration === a?.metadata?.generation && a?.status?.egress
      ? a.status
      : undefined;
  });
}

Deno.test(
  onRealNode("e2e: egress per Agent, enforced by NetworkPolicy on the real node"),
  async () => {
    const server = await startGitServer(realNode!.gateway);
    const model = await startModelServer({ hostname: realNode!.gateway, scripts: [] });
    const modelCalls = () => model.requests.filter((r) => r.path === "/v1/models").length;
    const h = await TaskHarness.start({ egress: true, settings: () => ({ gitImage: GIT_IMAGE }) });
    const anp = `kubetask-e2e-${h.ns}`; // cluster-scoped: named after the test's namespace
    try {
      const modelTarget = `${new URL(model.url).host}/v1/models`;
      const podTarget = `${await startTarget(h)}:${PORT}/`;
      const targets = [modelTarget, podTarget];
      const answer = (e: string) => e === modelTarget ? ANSWER.model : ANSWER.pod;
      const git = new URL(server.url);
      await h.context("repo", { type: "Git", git: { repository: server.url, path: "docs" } });
      const gitRule = { cidr: `${git.hostname}/32`, ports: [{ port: Number(git.port) }] };

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
      assert.equal(modelCalls(), 0, "the model server saw no request");
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

      // Allowing the targets makes them reachable.
      await kubectl([
        "patch",
        "agent",
        "restricted",
        "-n",
        h.ns,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "add", path: "/spec/egress/allow", value: targets.map(ruleFor) }]),
      ]);
      await eventually("the policy allows the targets", async () => {
        const p = await h.get("networkpolicy", "kubetask-egress-restricted");
        return p?.spec?.egress?.length === 3; // DNS and the two targets
      });
      const opened = await runTask(h, "allowed", "restricted");
      for (const e of targets) assert.match(opened, allowed(e, answer(e)));
      assert.equal(modelCalls(), 1, "the model server answered the allowed Task");

      // Unrestricted: no policy, everything reachable.
      await h.agent(
        "open",
        realNodeAgent({ command: probe(targets), egress: { mode: "Unrestricted" } }),
      );
      assert.deepEqual((await egressStatus(h, "open")).egress, { mode: "Unrestricted" });
      const open = await runTask(h, "open", "open");
      for (const e of targets) assert.match(open, allowed(e, answer(e)));
      assert.equal((await h.get("task", "open"))!.status.egress.git, undefined);
      assert.deepEqual((await h.get("task", "open"))!.status.egress, { mode: "Unrestricted" });

      // The additive trap: a second Restricted Agent, and a namespace policy that
      // re-opens egress for every pod. The Agent's condition names it, and the
      // agent indeed gets through.
      await h.agent(
        "trapped",
        realNodeAgent({
          command: probe(targets),
          egress: { mode: "Restricted", allow: [gitRule] },
        }),
      );
      await egressStatus(h, "trapped");
      await h.apply({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "allow-all-egress" },
        spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{}] },
      });
      const bypassed = await eventually("EgressBypassed on the Agent", async () => {
        const a = await h.get("agent", "trapped");
        const c = a?.status?.conditions?.find((x: Json) => x.type === "EgressBypassed");
        return c?.status === "True" ? c : undefined;
      });
      assert.equal(bypassed.reason, "AdditivePolicy");
      assert.match(bypassed.message, /NetworkPolicy "allow-all-egress"/);
      assert.ok(
        (await h.eventsFor("trapped")).some((e) => e.startsWith("Warning AdditivePolicy")),
      );
      const trapped = await runTask(h, "trapped", "trapped");
      for (const e of targets) assert.match(trapped, allowed(e, answer(e)));

      // What the README shows a platform team: an AdminNetworkPolicy (the node's engine serves
      // the API) is judged before NetworkPolicies, so its Deny holds whatever the namespace's
      // policies allow. It denies the trapped Agent's pods the two targets (by address and
      // port: the git server shares the model server's address); the clone still works.
      const trappedUid = (await h.get("agent", "trapped"))!.metadata.uid;
      await kubectl(
        ["create", "-f", "-"],
        JSON.stringify(pinnedDeny(anp, h.ns, trappedUid, targets)),
      );
      const pinned = await runTask(h, "pinned", "trapped");
      assert.match(pinned, /^guide\.md$/m, "the clone worked");
      for (const e of targets) assert.match(pinned, blocked(e));

      // The policy goes with its Agent (garbage collection, through the owner reference).
      await kubectl(["delete", "agent", "restricted", "-n", h.ns, "--wait=true"]);
      await eventually(
        "the Agent's NetworkPolicy is gone",
        async () => !(await h.get("networkpolicy", "kubetask-egress-restricted")),
        60_000,
      );
    } finally {
      await kubectl(["delete", "adminnetworkpolicy", anp, "--ignore-not-found"]).catch(() => {});
      await h.cleanup();
      await server.close();
      await model.close();
    }
  },
);
