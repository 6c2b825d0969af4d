// The operator's side of the model gateway: what an Agent with a modelProvider
// gets in its pod (a gateway token, the gateway's CA, where to call, no key),
// the budget bounds, and a Task the gateway marked over budget ending as
// BudgetExceeded with the gateway's usage kept.
import assert from "assert";
import type { V1Job } from "@kubernetes/client-node";
import {
  buildAgentJob,
  buildContextConfigMap,
  DEFAULT_JOB_SETTINGS,
  type JobSettings,
} from "../../../controllers/task/job.ts";
import { budgetProblem, effectiveBudget, microUSD } from "../../../controllers/task/budget.ts";
import { gatewayProblem } from "../../../controllers/task/gateway.ts";
import { finalUsage } from "../../../controllers/task/usage.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { BUDGET_STOP_GRACE_MS } from "../../../controllers/task/stop.ts";
import { taskController } from "../../../controllers/task/controller.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import {
  ConfigMapResource,
  JobResource,
  PodResource,
} from "../../../controllers/runtime/resources.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { parseConfig } from "../../../controllers/config.ts";
import { FakeCluster } from "../support/fake_cluster.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

const GATEWAY: JobSettings = {
  ...DEFAULT_JOB_SETTINGS,
  gateway: {
    url: "https://kubetask-gateway.kubetask-system.svc:8443",
    caPem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
    audience: "kubetask-gateway",
    tokenExpirationSeconds: 600,
  },
};

const container = (job: V1Job) => job.spec!.template.spec!.containers[0];

Deno.test("gateway: an Agent with a modelProvider gets a gateway token, the CA and the URL, no key", () => {
  const task = makeTask({ description: "Fix it" });
  const agent = makeAgent({ modelProvider: "anthropic" });
  const job = buildAgentJob(task, agent, [], GATEWAY);
  const env = Object.fromEntries((container(job).env ?? []).map((e) => [e.name, e.value]));
  assert.equal(
    env.KUBETASK_GATEWAY_URL,
    "https://kubetask-gateway.kubetask-system.svc:8443/p/anthropic",
  );
  assert.equal(env.KUBETASK_GATEWAY_TOKEN_FILE, "/var/run/secrets/kubetask.io/gateway/token");
  assert.equal(env.KUBETASK_GATEWAY_CA_FILE, "/var/run/secrets/kubetask.io/gateway/ca.crt");
  const volume = job.spec!.template.spec!.volumes!.find((v) => v.name === "kubetask-gateway")!;
  assert.deepEqual(volume.projected?.sources?.[0], {
    serviceAccountToken: { audience: "kubetask-gateway", expirationSeconds: 600, path: "token" },
  });
  assert.deepEqual(volume.projected?.sources?.[1], {
    configMap: { name: "fix-bug-context", items: [{ key: "gateway-ca.crt", path: "ca.crt" }] },
  });
  assert.deepEqual(
    container(job).volumeMounts?.find((m) => m.name === "kubetask-gateway"),
    { name: "kubetask-gateway", mountPath: "/var/run/secrets/kubetask.io/gateway", readOnly: true },
  );
  const configMap = buildContextConfigMap(task, agent, [], undefined, GATEWAY);
  assert.equal(configMap.data?.["gateway-ca.crt"], GATEWAY.gateway!.caPem);
  assert.equal(configMap.metadata?.name, "fix-bug-context");

  // An Agent without a provider: nothing of the gateway.
  const plain = buildAgentJob(task, makeAgent(), [], GATEWAY);
  assert.ok(!JSON.stringify(plain).includes("gateway"));
  assert.equal(
    buildContextConfigMap(task, makeAgent(), [], undefined, GATEWAY).data?.["gateway-ca.crt"],
    undefined,
  );
});

Deno.test("gateway: a provider without a gateway is refused, naming the flag", () => {
  const agent = makeAgent({ modelProvider: "anthropic" });
  assert.equal(gatewayProblem(agent, undefined)?.reason, "GatewayNotConfigured");
  assert.match(gatewayProblem(agent, undefined)!.message, /--gateway-url/);
  assert.equal(gatewayProblem(agent, GATEWAY.gateway), undefined);
  assert.equal(gatewayProblem(makeAgent(), undefined), undefined);
});

Deno.test("budget: the Task's own, else the Agent's; never above maxBudget; needs a provider", () => {
  const agent = makeAgent({
    modelProvider: "anthropic",
    budget: { costUSD: "1" },
    maxBudget: { costUSD: "5", tokens: 100000 },
  });
  assert.deepEqual(effectiveBudget(makeTask(), agent), { costUSD: "1" });
  assert.deepEqual(effectiveBudget(makeTask({ budget: { tokens: 5 } }), agent), { tokens: 5 });
  // The default sets no tokens, and maxBudget bounds them.
  assert.match(budgetProblem(makeTask(), agent)!.message, /sets no tokens/);
  assert.equal(
    budgetProblem(makeTask({ budget: { costUSD: "5.000000", tokens: 100000 } }), agent),
    undefined,
  );
  const over = budgetProblem(makeTask({ budget: { costUSD: "5.000001", tokens: 10 } }), agent);
  assert.equal(over?.reason, "AgentLimitExceeded");
  assert.match(over!.message, /costUSD "5.000001" is more than allowed.*maxBudget costUSD "5"/);
  assert.match(
    budgetProblem(makeTask({ budget: { costUSD: "1", tokens: 100001 } }), agent)!.message,
    /tokens 100001/,
  );
  // Without a provider nobody would count: refused rather than ignored.
  assert.equal(
    budgetProblem(makeTask({ budget: { costUSD: "1" } }), makeAgent())?.reason,
    "BudgetNotEnforceable",
  );
  assert.equal(
    budgetProblem(makeTask(), makeAgent({ maxBudget: { tokens: 5 } }))?.reason,
    "BudgetNotEnforceable",
  );
  assert.equal(microUSD("0.25"), 250000);
  assert.equal(microUSD("12"), 12_000_000);
  assert.equal(microUSD("0.000001"), 1);
});

Deno.test("budget: amounts that are not plain dollar figures, and zero tokens, are refused by the schema", () => {
  // The zod twin of the CEL rules: a Task's controller-side parse refuses them too.
  assert.throws(() => makeTask({ budget: { costUSD: "-1" } }));
  assert.throws(() => makeTask({ budget: { costUSD: "1e3" } }));
  assert.throws(() => makeTask({ budget: { tokens: 0 } }));
  assert.ok(makeTask({ budget: { costUSD: "0.50" } }));
});

Deno.test("usage: through the gateway its count stays and the agent's becomes the cross-check", () => {
  const gateway = {
    inputTokens: 100,
    outputTokens: 20,
    costUSD: "0.0004",
    source: "Gateway" as const,
  };
  assert.deepEqual(finalUsage(gateway, { inputTokens: 99, outputTokens: 20, model: "m" }), {
    ...gateway,
    agentReported: { inputTokens: 99, outputTokens: 20 },
  });
  assert.deepEqual(finalUsage(gateway, undefined), gateway);
  assert.deepEqual(finalUsage(undefined, { inputTokens: 5 }), { inputTokens: 5, source: "Agent" });
  assert.equal(finalUsage(undefined, undefined), undefined);
});

Deno.test("config: --gateway-url needs https and a CA file; the token lives at least 10m", () => {
  const env = () => undefined;
  const cfg = parseConfig(
    ["--gateway-url=https://gw.ns.svc:8443/", "--gateway-ca-file=/ca.crt"],
    env,
  );
  assert.deepEqual(cfg.gateway, {
    url: "https://gw.ns.svc:8443",
    caFile: "/ca.crt",
    audience: "kubetask-gateway",
    tokenExpirationSeconds: 600,
  });
  assert.throws(
    () => parseConfig(["--gateway-url=http://gw:80", "--gateway-ca-file=/ca"], env),
    /https/,
  );
  assert.throws(() => parseConfig(["--gateway-url=https://gw:8443"], env), /--gateway-ca-file/);
  assert.throws(
    () =>
      parseConfig(
        ["--gateway-url=https://gw", "--gateway-ca-file=/ca", "--gateway-token-expiration=5m"],
        env,
      ),
    /at least 10m/,
  );
  assert.equal(parseConfig([], env).gateway, undefined);
  const base = ["--gateway-url=https://gw.ns.svc:8443", "--gateway-ca-file=/ca"];
  assert.deepEqual(
    parseConfig([...base, "--gateway-service=kubetask-system/kubetask-gateway"], env).gateway
      ?.egress,
    {
      service: { namespace: "kubetask-system", name: "kubetask-gateway" },
    },
  );
  assert.deepEqual(
    parseConfig([...base, "--gateway-egress-cidr=10.0.0.5/32"], env).gateway?.egress,
    {
      cidr: "10.0.0.5/32",
      port: 8443,
    },
  );
  assert.throws(() => parseConfig([...base, "--gateway-egress-cidr=10.0.0.5"], env), /CIDR/);
  assert.throws(() => parseConfig([...base, "--gateway-service=../x"], env), /NAMESPACE\/NAME/);
});

const NS = "team";
const REQ = { kind: "Task", namespace: NS, name: "fix" };

/** The Job controller's record of the Job "fix" failed at `at` for `reason`. */
function failJob(c: FakeCluster, at: string, reason: string): void {
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = {
      startTime: "2030-01-01T00:00:00Z",
      failed: 1,
      conditions: [{ type: "Failed", status: "True", lastTransitionTime: at, reason }],
    };
  });
}

/** A gateway Task with a budget whose agent runs (pod fix-pod), on a fake cluster. */
async function runningBudgetedTask(): Promise<FakeCluster> {
  const c = new FakeCluster();
  c.declareIndexes(taskController);
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default", uid: "agent-uid" },
    spec: {
      agentImage: "agent:1",
      serviceAccountName: "sa",
      workspaceDir: "/workspace",
      modelProvider: "anthropic",
    },
  });
  c.seed(TaskResource, {
    metadata: { namespace: NS, name: "fix" },
    spec: { description: "Fix it", budget: { costUSD: "0.01" } },
  });
  await reconcileTask(REQ, c.context(), GATEWAY);
  const cm = c.stored<KubeObject>(ConfigMapResource, NS, "fix-context")!;
  assert.ok(cm.data["gateway-ca.crt"].includes("BEGIN CERTIFICATE"));
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { active: 1, startTime: "2030-01-01T00:00:00Z" };
  });
  c.seed(PodResource, {
    metadata: {
      namespace: NS,
      name: "fix-pod",
      labels: {
        "batch.kubernetes.io/controller-uid": job.metadata!.uid!,
        "kubetask.io/task": "fix",
      },
      ownerReferences: [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "fix",
        uid: job.metadata!.uid!,
        controller: true,
      }],
    },
    status: {
      phase: "Running",
      startTime: "2029-12-31T23:59:00Z",
      containerStatuses: [{
        name: "agent",
        state: { running: { startedAt: "2029-12-31T23:59:01Z" } },
      }],
    },
  });
  await reconcileTask(REQ, c.context(), GATEWAY);
  assert.equal(c.stored<KubeObject>(TaskResource, NS, "fix")!.status.phase, "Running");
  return c;
}

Deno.test("reconcile: a Task the gateway marked over budget stops its agent, then fails BudgetExceeded with the gateway's usage", async () => {
  const c = await runningBudgetedTask();
  const req = REQ;

  // The gateway's write: its live count and the refusal it sent the agent.
  const message = "KubeTask budget exhausted: Task fix used $0.009 of $0.01";
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.status = {
      ...t.status,
      usage: {
        inputTokens: 1000,
        outputTokens: 50,
        costUSD: "0.009",
        requests: 2,
        source: "Gateway",
        budgetExceeded: message,
      },
    };
  });
  await reconcileTask(req, c.context(), GATEWAY);
  assert.equal(c.stored<KubeObject>(PodResource, NS, "fix-pod")?.spec?.activeDeadlineSeconds, 60);
  const stopping = c.stored<KubeObject>(TaskResource, NS, "fix")!.status;
  assert.equal(
    stopping.conditions.find((x: KubeObject) => x.type === "Succeeded").reason,
    "Stopping",
  );

  // The kubelet ended the pod; the agent reported its own figures on the way out.
  c.mutate(PodResource, NS, "fix-pod", (p) => {
    p.status = {
      phase: "Failed",
      containerStatuses: [{
        name: "agent",
        state: {
          terminated: {
            exitCode: 1,
            finishedAt: "2030-01-01T00:00:03Z",
            message: "budget refused\n::kubetask-usage inputTokens=990 outputTokens=50::\n",
          },
        },
      }],
    };
  });
  failJob(c, "2030-01-01T00:00:04Z", "DeadlineExceeded");
  await reconcileTask(req, c.context(), GATEWAY);
  const done = c.stored<KubeObject>(TaskResource, NS, "fix")!.status;
  assert.equal(done.phase, "Failed");
  const succeeded = done.conditions.find((x: KubeObject) => x.type === "Succeeded");
  assert.equal(succeeded.reason, "BudgetExceeded");
  assert.match(succeeded.message, /KubeTask budget exhausted: Task fix used \$0.009 of \$0.01/);
  assert.equal(done.usage.source, "Gateway");
  assert.equal(done.usage.inputTokens, 1000);
  assert.deepEqual(done.usage.agentReported, { inputTokens: 990, outputTokens: 50 });
  const events = c.events.map((e) => `${e.type} ${e.reason}`);
  assert.ok(events.includes("Warning BudgetExceeded"), events.join(", "));
});

Deno.test("reconcile: over budget, the agent gets a grace from the gateway's mark to end by itself; the Task fails BudgetExceeded all the same", async () => {
  const c = await runningBudgetedTask();
  const message = "KubeTask budget exhausted: Task fix used $0.009 of $0.01";
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.status = {
      ...t.status,
      usage: {
        costUSD: "0.009",
        source: "Gateway",
        updateTime: "2030-01-01T00:00:00Z", // the fake cluster's now
        budgetExceeded: message,
      },
    };
  });
  const waiting = await reconcileTask(REQ, c.context(), GATEWAY);
  assert.equal(
    c.stored<KubeObject>(PodResource, NS, "fix-pod")?.spec?.activeDeadlineSeconds,
    undefined,
  );
  assert.equal(waiting.requeueAfterMs, BUDGET_STOP_GRACE_MS, "woken when the grace ends");
  const stopping = c.stored<KubeObject>(TaskResource, NS, "fix")!.status;
  assert.equal(
    stopping.conditions.find((x: KubeObject) => x.type === "Succeeded").reason,
    "Stopping",
  );

  // Past the grace, the pod is stopped.
  const later = new Date(Date.parse("2030-01-01T00:00:00Z") + BUDGET_STOP_GRACE_MS);
  await reconcileTask(REQ, c.context(() => later), GATEWAY);
  assert.equal(c.stored<KubeObject>(PodResource, NS, "fix-pod")?.spec?.activeDeadlineSeconds, 75);

  // Had the agent exited first (its CLI showed the refusal), the reason is the budget's.
  failJob(c, "2030-01-01T00:00:02Z", "BackoffLimitExceeded");
  c.mutate(PodResource, NS, "fix-pod", (p) => {
    p.status = {
      phase: "Failed",
      containerStatuses: [{
        name: "agent",
        state: { terminated: { exitCode: 1, finishedAt: "2030-01-01T00:00:02Z" } },
      }],
    };
  });
  await reconcileTask(REQ, c.context(), GATEWAY);
  const done = c.stored<KubeObject>(TaskResource, NS, "fix")!.status;
  assert.equal(done.phase, "Failed");
  const succeeded = done.conditions.find((x: KubeObject) => x.type === "Succeeded");
  assert.equal(succeeded.reason, "BudgetExceeded");
  assert.match(succeeded.message, /used \$0.009 of \$0.01/);
});
