// A Restricted Agent's Task with Git contexts: its own NetworkPolicy for the
// repositories' hosts (pure plan), the addresses a hostile name may resolve
// to, and the Task reconciler creating that policy before the Job.
import assert from "assert";
import {
  addressCidr,
  gitDestination,
  isTaskGitPolicy,
  MAX_ADDRESSES_PER_HOST,
  planTaskGitEgress,
  type Resolution,
  taskGitEgressStatus,
  taskGitPolicyName,
} from "../../../controllers/egress/git.ts";
import { networkPolicyNameFor } from "../../../controllers/egress/mode.ts";
import { reconcileAgentEgress } from "../../../controllers/egress/reconciler.ts";
import { createEgressController } from "../../../controllers/egress/controller.ts";
import { JobResource, NetworkPolicyResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, ContextResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { taskController } from "../../../controllers/task/controller.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const TASK = { name: "fix", namespace: "team", uid: "task-uid-1" };
const AGENT_UID = "agent-uid-1";
const repo = (repository: string, source = 'Context "repo"') => ({ source, repository });
const resolved = (entries: Record<string, Resolution>) => new Map(Object.entries(entries));

Deno.test("git egress: host and port of https:// and ssh:// URLs, defaults 443 and 22", () => {
  assert.deepEqual(gitDestination("https://git.example.com/org/repo.git"), {
    host: "git.example.com",
    port: 443,
  });
  assert.deepEqual(gitDestination("https://10.1.2.3:8443/repo"), { host: "10.1.2.3", port: 8443 });
  assert.deepEqual(gitDestination("ssh://git@git.example.com/org/repo.git"), {
    host: "git.example.com",
    port: 22,
  });
  assert.deepEqual(gitDestination("https://[2001:db8::1]:444/r"), {
    host: "2001:db8::1",
    port: 444,
  });
  assert.equal(gitDestination("http://git.example.com/r"), undefined);
  assert.equal(gitDestination("file:///etc"), undefined);
  assert.equal(gitDestination("not a url"), undefined);
});

Deno.test("git egress: one policy selecting this Task's pod alone, /32 per address on the URL's port", () => {
  const plan = planTaskGitEgress(TASK, AGENT_UID, [
    repo("https://git.example.com/org/a.git"),
    repo("https://git.example.com/org/b.git", 'Context "b"'), // same host and port: one rule
    repo("https://10.1.2.3:8443/c", 'Context "shared/c"'), // an IP: nothing to resolve
  ], resolved({ "git.example.com": { addresses: ["203.0.113.7", "2001:db8::7"] } }));
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(plan.allowed, [
    "git.example.com:443 -> 2001:db8::7/128",
    "git.example.com:443 -> 203.0.113.7/32",
    "10.1.2.3:8443 -> 10.1.2.3/32",
  ]);
  assert.deepEqual(plan.policy, {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: "kubetask-git-fix",
      namespace: "team",
      labels: { "app.kubernetes.io/managed-by": "kubetask" },
    },
    spec: {
      podSelector: {
        matchLabels: { "kubetask.io/agent-uid": AGENT_UID, "kubetask.io/task-uid": TASK.uid },
      },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "2001:db8::7/128" } }, { ipBlock: { cidr: "203.0.113.7/32" } }],
          ports: [{ protocol: "TCP", port: 443 }],
        },
        { to: [{ ipBlock: { cidr: "10.1.2.3/32" } }], ports: [{ protocol: "TCP", port: 8443 }] },
      ],
    },
  });
});

Deno.test("git egress: a hostile name never widens the policy beyond single, ordinary addresses", () => {
  // What a zone under a tenant's control could answer for its repository's host.
  for (
    const [address, why] of [
      ["0.0.0.0", /unspecified/],
      ["127.0.0.1", /loopback/],
      ["169.254.169.254", /link-local/],
      ["224.0.0.1", /multicast/],
      ["255.255.255.255", /reserved or broadcast/],
      ["::", /unspecified/],
      ["::1", /loopback/],
      ["fe80::1", /link-local/],
      ["ff02::1", /multicast/],
      ["::ffff:169.254.169.254", /IPv4-mapped/],
      ["0.0.0.0/0", /not an IP address/],
      ["10.0.0.0/8", /not an IP address/],
      ["010.1.2.3", /not an IP address/],
      ["1.2.3.4 ", /not an IP address/],
      ["evil.example.com", /not an IP address/],
    ] as const
  ) {
    const c = addressCidr(address);
    assert.ok("problem" in c, `${address} refused`);
    assert.match(c.problem, why, address);
  }
  const plan = planTaskGitEgress(
    TASK,
    AGENT_UID,
    [repo("https://evil.example.com/r"), repo("https://0.0.0.0/r", 'Context "zero"')],
    resolved({ "evil.example.com": { addresses: ["0.0.0.0", "169.254.169.254", "::"] } }),
  );
  assert.equal(plan.policy, undefined, "nothing left to allow: no policy");
  assert.deepEqual(plan.allowed, []);
  assert.deepEqual(plan.problems, [
    'Context "repo": host "evil.example.com" left out: 0.0.0.0 is unspecified (0.0.0.0/8)',
    'Context "repo": host "evil.example.com" left out: 169.254.169.254 is link-local ' +
    "(169.254.0.0/16, where cloud metadata services answer)",
    'Context "repo": host "evil.example.com" left out: :: is unspecified',
    'Context "zero": host "0.0.0.0" left out: 0.0.0.0 is unspecified (0.0.0.0/8)',
  ]);
  const status = taskGitEgressStatus(plan, "2026-11-30T18:00:00Z");
  assert.match(status.message, /^no Git context host could be allowed: the clone cannot connect; /);

  // A name with very many addresses: only the first few.
  const many = Array.from({ length: 40 }, (_, i) => `203.0.113.${i + 1}`);
  const capped = planTaskGitEgress(
    TASK,
    AGENT_UID,
    [repo("https://many.example.com/r")],
    resolved({ "many.example.com": { addresses: many } }),
  );
  assert.equal(capped.allowed.length, MAX_ADDRESSES_PER_HOST);
  assert.match(capped.problems[0], /has 40 addresses; only the first 8 are allowed/);
  // A name that did not resolve, or was not looked up.
  const unresolved = planTaskGitEgress(TASK, AGENT_UID, [
    repo("https://gone.example.com/r"),
    repo("https://never.example.com/r", 'Context "n"'),
  ], resolved({ "gone.example.com": { error: "NXDOMAIN" } }));
  assert.deepEqual(unresolved.problems, [
    'Context "repo": host "gone.example.com" did not resolve (NXDOMAIN)',
    'Context "n": host "never.example.com" did not resolve (not resolved)',
  ]);
});

Deno.test("git egress: the Agent's trap check passes over a Task's Git policy, and only that shape", () => {
  const plan = planTaskGitEgress(TASK, AGENT_UID, [repo("https://10.1.2.3/r")], new Map());
  const owned = (p: KubeObject, uid = TASK.uid): KubeObject => ({
    ...p,
    metadata: {
      ...p.metadata,
      ownerReferences: [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        name: "fix",
        uid,
        controller: true,
      }],
    },
  });
  assert.ok(isTaskGitPolicy(owned(plan.policy!)));
  assert.ok(!isTaskGitPolicy(plan.policy!), "not controlled by a Task");
  assert.ok(!isTaskGitPolicy(owned(plan.policy!, "another-task")), "selects another Task's pod");
  const widened = structuredClone(owned(plan.policy!));
  widened.spec.egress[0].to = [{ ipBlock: { cidr: "0.0.0.0/0" } }];
  assert.ok(!isTaskGitPolicy(widened), "a range is not a repository");
  const anyPort = structuredClone(owned(plan.policy!));
  delete anyPort.spec.egress[0].ports;
  assert.ok(!isTaskGitPolicy(anyPort), "every port is not a repository's");
  const pods = structuredClone(owned(plan.policy!));
  pods.spec.egress[0].to = [{ podSelector: {} }];
  assert.ok(!isTaskGitPolicy(pods), "pods are not a repository");
});

// --- The Task reconciler ---

const NS = "team";

function restrictedCluster(repository: string): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(taskController);
  c.declareIndexes(createEgressController());
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "coder", generation: 1 },
    spec: {
      agentImage: "agent:1",
      serviceAccountName: "sa",
      workspaceDir: "/workspace",
      egress: { mode: "Restricted" },
    },
    status: {
      observedGeneration: 1,
      egress: { mode: "Restricted", networkPolicy: "kubetask-egress-coder" },
    },
  });
  c.seed(ContextResource, {
    metadata: { namespace: NS, name: "repo" },
    spec: { type: "Git", git: { repository } },
  });
  c.seed(TaskResource, {
    metadata: { namespace: NS, name: "fix" },
    spec: {
      description: "Fix it",
      agentRef: "coder",
      contexts: [{ name: "repo", mountPath: "repo" }],
    },
  });
  return c;
}

Deno.test("git egress: a Restricted Agent's Task gets its NetworkPolicy before its Job; its status says so", async () => {
  const c = restrictedCluster("https://git.example.com/org/repo.git");
  const asked: string[] = [];
  const settings = {
    gitImage: "git",
    resolveHost: (host: string) => {
      asked.push(host);
      return Promise.resolve({ addresses: ["203.0.113.7"] });
    },
  };
  await reconcileTask({ kind: "Task", namespace: NS, name: "fix" }, c.context(), settings);
  assert.deepEqual(asked, ["git.example.com"]);
  assert.deepEqual(c.writes(), [
    "create networkpolicies/kubetask-git-fix",
    "create configmaps/fix-context",
    "create jobs/fix",
    "updateStatus tasks/fix",
  ]);
  const task = c.stored<KubeObject>(TaskResource, NS, "fix")!;
  const agent = c.stored<KubeObject>(AgentResource, NS, "coder")!;
  const policy = c.stored<KubeObject>(NetworkPolicyResource, NS, "kubetask-git-fix")!;
  assert.equal(policy.metadata?.ownerReferences?.[0].uid, task.metadata?.uid, "owned by the Task");
  assert.deepEqual(policy.spec.podSelector.matchLabels, {
    "kubetask.io/agent-uid": agent.metadata?.uid,
    "kubetask.io/task-uid": task.metadata?.uid,
  });
  // The pod carries both labels, whatever the Agent's podSpec.labels say.
  const pod = c.stored<KubeObject>(JobResource, NS, "fix")!.spec.template.metadata.labels;
  assert.equal(pod["kubetask.io/task-uid"], task.metadata?.uid);
  assert.equal(pod["kubetask.io/agent-uid"], agent.metadata?.uid);
  const egress = task.status.egress;
  assert.equal(egress.mode, "Restricted");
  assert.equal(egress.networkPolicy, "kubetask-egress-coder");
  assert.equal(egress.git.networkPolicy, "kubetask-git-fix");
  assert.deepEqual(egress.git.allowed, ["git.example.com:443 -> 203.0.113.7/32"]);
  assert.match(egress.git.message, /resolved at .*; an address a host takes later is not followed/);

  // The Agent's additive-trap check does not count it.
  await reconcileAgentEgress({ kind: "Agent", namespace: NS, name: "coder" }, c.context());
  const bypassed = c.stored<KubeObject>(AgentResource, NS, "coder")!.status.conditions
    .find((x: { type: string }) => x.type === "EgressBypassed");
  assert.equal(bypassed.status, "False");
});

Deno.test("git egress: a repository host resolving to cloud metadata opens nothing; the status names it", async () => {
  const c = restrictedCluster("https://metadata.evil.example/r.git");
  await reconcileTask({ kind: "Task", namespace: NS, name: "fix" }, c.context(), {
    gitImage: "git",
    resolveHost: () => Promise.resolve({ addresses: ["169.254.169.254", "0.0.0.0"] }),
  });
  assert.equal(c.stored(NetworkPolicyResource, NS, "kubetask-git-fix"), undefined);
  assert.ok(c.stored(JobResource, NS, "fix"), "the clone runs, and fails closed");
  const git = c.stored<KubeObject>(TaskResource, NS, "fix")!.status.egress.git;
  assert.equal(git.networkPolicy, undefined);
  assert.match(git.message, /169\.254\.169\.254 is link-local/);
  assert.match(git.message, /0\.0\.0\.0 is unspecified/);
  const warning = c.events.find((e) => e.reason === "GitEgressIncomplete");
  assert.equal(warning?.type, "Warning");
  assert.match(warning!.message, /Context "repo": host "metadata\.evil\.example" left out/);
});

Deno.test("git egress: an Unrestricted Agent's Task resolves nothing and gets no policy", async () => {
  const c = restrictedCluster("https://git.example.com/r.git");
  c.mutate(AgentResource, NS, "coder", (a) => {
    a.spec.egress = { mode: "Unrestricted" };
  });
  await reconcileTask({ kind: "Task", namespace: NS, name: "fix" }, c.context(), {
    gitImage: "git",
    resolveHost: () => Promise.reject(new Error("must not be asked")),
  });
  assert.deepEqual(c.writes(), [
    "create configmaps/fix-context",
    "create jobs/fix",
    "updateStatus tasks/fix",
  ]);
});

Deno.test("git egress: an Agent with gitHosts Listed lets no Task open anything: no look-up, no policy", async () => {
  const c = restrictedCluster("https://git.example.com/r.git");
  c.mutate(AgentResource, NS, "coder", (a) => {
    a.spec.egress = { ...a.spec.egress, gitHosts: "Listed" };
  });
  await reconcileTask({ kind: "Task", namespace: NS, name: "fix" }, c.context(), {
    gitImage: "git",
    resolveHost: () => Promise.reject(new Error("must not be asked")),
  });
  assert.deepEqual(c.writes(), [
    "create configmaps/fix-context",
    "create jobs/fix",
    "updateStatus tasks/fix",
  ]);
  const egress = c.stored<KubeObject>(TaskResource, NS, "fix")!.status.egress;
  assert.equal(egress.mode, "Restricted", "under the Agent's policy alone");
  assert.equal(egress.git, undefined);
});

Deno.test("git egress: a Context on the metadata address that got past the CRD (no CEL) fails its Task: no policy, no Job", async () => {
  const c = restrictedCluster("https://169.254.169.254/latest/meta-data");
  await reconcileTask({ kind: "Task", namespace: NS, name: "fix" }, c.context(), {
    gitImage: "git",
    resolveHost: () => Promise.reject(new Error("must not be asked")),
  });
  assert.equal(c.stored(NetworkPolicyResource, NS, "kubetask-git-fix"), undefined);
  assert.equal(c.stored(JobResource, NS, "fix"), undefined);
  const status = c.stored<KubeObject>(TaskResource, NS, "fix")!.status;
  assert.equal(status.phase, "Failed");
  const ready = status.conditions.find((x: { type: string }) => x.type === "Ready");
  assert.equal(ready.reason, "InvalidContext");
});

Deno.test("git egress: no look-up while the Task waits for its Agent's policy", async () => {
  const c = restrictedCluster("https://git.example.com/r.git");
  c.mutate(AgentResource, NS, "coder", (a) => {
    a.status = {};
  });
  let asked = 0;
  await reconcileTask({ kind: "Task", namespace: NS, name: "fix" }, c.context(), {
    gitImage: "git",
    resolveHost: () => {
      asked++;
      return Promise.resolve({ addresses: ["203.0.113.7"] });
    },
  });
  assert.equal(asked, 0);
  assert.equal(c.stored(JobResource, NS, "fix"), undefined);
  assert.equal(c.stored(NetworkPolicyResource, NS, "kubetask-git-fix"), undefined);
});

Deno.test("egress: a Task's Git policy name never equals an Agent's policy name", () => {
  // Before: Task "kubetask-egress-a" got "kubetask-egress-a-git-egress", Agent "a-git-egress"'s.
  assert.notEqual(taskGitPolicyName("kubetask-egress-a"), networkPolicyNameFor("a-git-egress"));
  for (const task of ["fix", "kubetask-egress-x", "a".repeat(253)]) {
    const name = taskGitPolicyName(task);
    assert.match(name, /^kubetask-git-/);
    assert.ok(name.length <= 76, name);
  }
});
