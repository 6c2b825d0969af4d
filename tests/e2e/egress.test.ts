// Egress per Agent, enforced on the real node by its NetworkPolicy engine
// (kube-network-policies): a Restricted Agent reaches what it allows and
// nothing else; an Unrestricted one reaches everything; another policy that
// re-opens egress raises the Agent's condition; the policy goes with its Agent.
//
// The address a Restricted Agent must not reach is a pod on the real node (a
// busybox httpd): the engine sees pod-to-pod and routed traffic, but not a
// pod's connection to the host's own addresses (delivered locally, past its
// postrouting hook), where the test's git server listens. See
// localcluster/realnode/network_policies.ts.
import assert from "assert";
import { condition, type Json, TaskHarness } from "../integration/task/harness.ts";
import { eventually, kubectl } from "../integration/env.ts";
import { startGitServer } from "../../localcluster/git_server.ts";
import { REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node.ts";
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
 * the apiserver; without NRI a first packet can beat it), then tries the
 * target with a short timeout and says what happened.
 */
function probe(ip: string): string[] {
  // busybox wget's own -T crashes (a segmentation fault) once it expires: timeout(1) instead.
  return [
    "sh",
    "-c",
    `sleep 5; ls /workspace/repo; ` +
    `out=$(timeout 5 wget -q -O - http://${ip}:${PORT}/ 2>&1); rc=$?; ` +
    `if [ $rc = 0 ]; then echo "ALLOWED ${ip}:${PORT}: $out"; ` +
    `elif [ $rc = 143 ]; then echo "BLOCKED ${ip}:${PORT}: no answer in 5s, connection timed out"; ` +
    `else echo "BLOCKED ${ip}:${PORT}: $out (exit $rc)"; fi`,
  ];
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
    const h = await TaskHarness.start({ egress: true, settings: () => ({ gitImage: GIT_IMAGE }) });
    try {
      const target = await startTarget(h);
      const git = new URL(server.url);
      await h.context("repo", { type: "Git", git: { repository: server.url, path: "docs" } });
      const gitRule = { cidr: `${git.hostname}/32`, ports: [{ port: Number(git.port) }] };

      // Restricted: the git host allowed, the target not.
      await h.agent(
        "restricted",
        realNodeAgent({ command: probe(target), egress: { mode: "Restricted", allow: [gitRule] } }),
      );
      const status = await egressStatus(h, "restricted");
      assert.deepEqual(status.egress, {
        mode: "Restricted",
        networkPolicy: "kubetask-egress-restricted",
      });
      const policy = JSON.parse(
        await kubectl([
          "get",
          "networkpolicy",
          "-n",
          h.ns,
          "kubetask-egress-restricted",
          "-o",
          "json",
        ]),
      );
      console.error(`[e2e] the operator's NetworkPolicy:\n${JSON.stringify(policy.spec, null, 2)}`);
      const blocked = await runTask(h, "blocked", "restricted");
      assert.match(blocked, /^guide\.md$/m, "the clone worked");
      assert.match(
        blocked,
        new RegExp(`^BLOCKED ${target}:${PORT}: no answer in 5s, connection timed out$`, "m"),
      );
      const task = await h.get("task", "blocked");
      assert.deepEqual(task!.status.egress, {
        mode: "Restricted",
        networkPolicy: "kubetask-egress-restricted",
      });

      // Allowing the target makes it reachable.
      await kubectl([
        "patch",
        "agent",
        "restricted",
        "-n",
        h.ns,
        "--type=json",
        "-p",
        JSON.stringify([{
          op: "add",
          path: "/spec/egress/allow/-",
          value: { cidr: `${target}/32`, ports: [{ port: PORT }] },
        }]),
      ]);
      await eventually("the policy allows the target", async () => {
        const p = JSON.parse(
          await kubectl([
            "get",
            "networkpolicy",
            "-n",
            h.ns,
            "kubetask-egress-restricted",
            "-o",
            "json",
          ]),
        );
        return JSON.stringify(p.spec.egress).includes(`${target}/32`);
      });
      assert.match(
        await runTask(h, "allowed", "restricted"),
        new RegExp(`^ALLOWED ${target}:${PORT}: reachable`, "m"),
      );

      // Unrestricted: no policy, everything reachable.
      await h.agent(
        "open",
        realNodeAgent({ command: probe(target), egress: { mode: "Unrestricted" } }),
      );
      assert.deepEqual((await egressStatus(h, "open")).egress, { mode: "Unrestricted" });
      assert.match(
        await runTask(h, "open", "open"),
        new RegExp(`^ALLOWED ${target}:${PORT}: reachable`, "m"),
      );
      assert.deepEqual((await h.get("task", "open"))!.status.egress, { mode: "Unrestricted" });

      // The additive trap: a second Restricted Agent, and a namespace policy that
      // re-opens egress for every pod. The Agent's condition names it, and the
      // agent indeed gets through.
      await h.agent(
        "trapped",
        realNodeAgent({ command: probe(target), egress: { mode: "Restricted", allow: [gitRule] } }),
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
      assert.match(
        await runTask(h, "trapped", "trapped"),
        new RegExp(`^ALLOWED ${target}:${PORT}`, "m"),
      );

      // The policy goes with its Agent (garbage collection, through the owner reference).
      await kubectl(["delete", "agent", "restricted", "-n", h.ns, "--wait=true"]);
      await eventually(
        "the Agent's NetworkPolicy is gone",
        async () => !(await h.get("networkpolicy", "kubetask-egress-restricted")),
        60_000,
      );
    } finally {
      await h.cleanup();
      await server.close();
    }
  },
);
