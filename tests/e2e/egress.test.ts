// Egress per Agent, enforced on the real node by its NetworkPolicy engine
// (kube-network-policies): a Restricted Agent reaches what it allows and
// nothing else; an Unrestricted one reaches everything; another policy that
// re-opens egress raises the Agent's condition; the policy goes with its Agent.
//
// What a Restricted Agent must not reach: an HTTP server on the bridge's
// address (the host itself, where the git server listens on another port) and
// one in a pod on the real node (a busybox httpd). See
// localcluster/realnode/network_policies.ts for how the node judges both.
import assert from "assert";
import { condition, type Json, TaskHarness } from "../integration/task/harness.ts";
import { eventually, kubectl } from "../integration/env.ts";
import { startGitServer } from "../../localcluster/git_server.ts";
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
 * endpoint ("ip:port") with a short timeout and says what happened.
 */
function probe(endpoints: string[]): string[] {
  // busybox wget's own -T crashes (a segmentation fault) once it expires: timeout(1) instead.
  return [
    "sh",
    "-c",
    `sleep 5; ls /workspace/repo; for e in ${endpoints.join(" ")}; do ` +
    `out=$(timeout 5 wget -q -O - http://$e/ 2>&1); rc=$?; ` +
    `if [ $rc = 0 ]; then echo "ALLOWED $e: $out"; ` +
    `elif [ $rc = 143 ]; then echo "BLOCKED $e: no answer in 5s, connection timed out"; ` +
    `else echo "BLOCKED $e: $out (exit $rc)"; fi; done`,
  ];
}

/** An HTTP server of the test's own on the bridge's address (the host); "ip:port". */
function startHostTarget(ip: string): { endpoint: string; close: () => Promise<void> } {
  const server = Deno.serve(
    { hostname: ip, port: 0, onListen: () => {} },
    () => new Response("reachable\n"),
  );
  return { endpoint: `${ip}:${server.addr.port}`, close: () => server.shutdown() };
}

const allowed = (e: string) => new RegExp(`^ALLOWED ${e}: reachable$`, "m");
const blocked = (e: string) =>
  new RegExp(`^BLOCKED ${e}: no answer in 5s, connection timed out$`, "m");
const ruleFor = (e: string) => {
  const [ip, port] = e.split(":");
  return { cidr: `${ip}/32`, ports: [{ port: Number(port) }] };
};

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
    const host = startHostTarget(realNode!.gateway);
    const h = await TaskHarness.start({ egress: true, settings: () => ({ gitImage: GIT_IMAGE }) });
    try {
      const targets = [host.endpoint, `${await startTarget(h)}:${PORT}`];
      const git = new URL(server.url);
      await h.context("repo", { type: "Git", git: { repository: server.url, path: "docs" } });
      const gitRule = { cidr: `${git.hostname}/32`, ports: [{ port: Number(git.port) }] };

      // Restricted: the git server allowed (same address as the host target, another port),
      // the targets not.
      await h.agent(
        "restricted",
        realNodeAgent({
          command: probe(targets),
          egress: { mode: "Restricted", allow: [gitRule] },
        }),
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
      const closed = await runTask(h, "blocked", "restricted");
      assert.match(closed, /^guide\.md$/m, "the clone worked");
      for (const e of targets) assert.match(closed, blocked(e));
      const task = await h.get("task", "blocked");
      assert.deepEqual(task!.status.egress, {
        mode: "Restricted",
        networkPolicy: "kubetask-egress-restricted",
      });

      // Allowing the targets makes them reachable.
      await kubectl([
        "patch",
        "agent",
        "restricted",
        "-n",
        h.ns,
        "--type=json",
        "-p",
        JSON.stringify(targets.map((e) => ({
          op: "add",
          path: "/spec/egress/allow/-",
          value: ruleFor(e),
        }))),
      ]);
      await eventually("the policy allows the targets", async () => {
        const p = await h.get("networkpolicy", "kubetask-egress-restricted");
        return p?.spec?.egress?.length === 4; // DNS, git and the two targets
      });
      const opened = await runTask(h, "allowed", "restricted");
      for (const e of targets) assert.match(opened, allowed(e));

      // Unrestricted: no policy, everything reachable.
      await h.agent(
        "open",
        realNodeAgent({ command: probe(targets), egress: { mode: "Unrestricted" } }),
      );
      assert.deepEqual((await egressStatus(h, "open")).egress, { mode: "Unrestricted" });
      const open = await runTask(h, "open", "open");
      for (const e of targets) assert.match(open, allowed(e));
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
      for (const e of targets) assert.match(trapped, allowed(e));

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
      await host.close();
    }
  },
);
