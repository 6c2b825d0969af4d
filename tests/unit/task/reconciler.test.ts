// The Task reconciler end to end on the in-memory fake: what it reads, what it
// writes, and that a stale cache never leads to a duplicate or a false failure.
import assert from "assert";
import {
  ConfigMapResource,
  EventResource,
  JobResource,
  PodResource,
} from "../../../controllers/runtime/resources.ts";
import {
  AgentResource,
  ContextResource,
  KubeTaskConfigResource,
  TaskResource,
} from "../../../controllers/kinds.ts";
import { ConflictError, type KubeObject } from "../../../controllers/runtime/types.ts";
import { ApiError } from "../../../controllers/runtime/transport.ts";
import { NAME_CONFLICT_RETRY_MS } from "../../../controllers/task/plan.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { OwnWrites, reconcileUnlessSuperseded } from "../../../controllers/runtime/own_writes.ts";
import { taskController } from "../../../controllers/task/controller.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const req = (name = "fix") => ({ kind: "Task", namespace: NS, name });

function setup(opts: { agent?: boolean } = {}): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(taskController);
  if (opts.agent !== false) {
    c.seed(AgentResource, {
      metadata: { namespace: NS, name: "default" },
      spec: { agentImage: "agent:1", serviceAccountName: "sa", workspaceDir: "/workspace" },
    });
  }
  c.seed(TaskResource, {
    metadata: { namespace: NS, name: "fix" },
    spec: { description: "Fix it" },
  });
  return c;
}

const statusOf = (c: FakeCluster, name = "fix") =>
  c.stored<KubeObject>(TaskResource, NS, name)?.status;
const condition = (c: FakeCluster, type: string) =>
  statusOf(c)?.conditions?.find((x: { type: string }) => x.type === type);

/** Marks the Job finished as the Job controller would. */
function finishJob(c: FakeCluster, type: "Complete" | "Failed", at: string) {
  c.mutate(JobResource, NS, "fix", (job) => {
    job.status = {
      ...(job.status?.startTime ? { startTime: job.status.startTime } : {}),
      conditions: [{ type, status: "True", lastTransitionTime: at, reason: "R", message: "m" }],
      ...(type === "Complete" ? { succeeded: 1, completionTime: at } : { failed: 1 }),
    };
  });
}

Deno.test("reconcile: a new Task creates its ConfigMap, then its Job, then writes status once", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  assert.deepEqual(c.writes(), [
    "create configmaps/fix-context",
    "create jobs/fix",
    "updateStatus tasks/fix",
  ]);
  // Everything was read from the cache: no live read at all.
  assert.equal(c.calls.filter((x) => x.verb === "get" || x.verb === "list").length, 0);
  const task = c.stored(TaskResource, NS, "fix")!;
  for (const [type, name] of [[JobResource, "fix"], [ConfigMapResource, "fix-context"]] as const) {
    const owned = c.stored(type, NS, name)!;
    assert.deepEqual(owned.metadata?.ownerReferences, [{
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Task",
      name: "fix",
      uid: task.metadata?.uid,
      controller: true,
      blockOwnerDeletion: true,
    }]);
  }
  assert.equal(statusOf(c).phase, "Pending");
  assert.equal(statusOf(c).jobName, "fix");
  assert.equal(condition(c, "Ready").reason, "JobCreated");
  assert.deepEqual(c.events.map((e) => e.reason), ["JobCreated"]);

  // Level-triggered and idempotent: nothing changed, nothing is written.
  const before = c.writes().length;
  await reconcileTask(req(), c.context());
  assert.equal(c.writes().length, before);
});

Deno.test("reconcile: the Task follows its Job to Completed and then waits for the TTL", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  finishJob(c, "Complete", "2029-12-31T23:59:30Z");
  const result = await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Completed");
  assert.equal(statusOf(c).completionTime, "2029-12-31T23:59:30Z");
  assert.equal(condition(c, "Succeeded").reason, "JobSucceeded");
  // 7 days after completion, less the 30 s since.
  assert.equal(result.requeueAfterMs, 604800_000 - 30_000);
});

/** A finished agent pod of the Job with `message` as its termination message. */
function agentPod(c: FakeCluster, message: string) {
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  c.seed(PodResource, {
    metadata: {
      namespace: NS,
      name: "fix-pod",
      labels: { "batch.kubernetes.io/controller-uid": job.metadata!.uid! },
    },
    status: {
      containerStatuses: [{
        name: "agent",
        state: { terminated: { exitCode: 0, finishedAt: "2029-12-31T23:59:30Z", message } },
      }],
    },
  });
}

Deno.test("reconcile: a status refused for the agent's report is written once without it, with a condition and a Warning", async () => {
  const c = setup();
  // An apiserver whose rules are stricter than the parser's (as maxProperties
  // was, before names like "constructor" were counted): at most one output.
  const refusal = 'Task.kubetask.io "fix" is invalid: status.outputs: Too many: 2: ' +
    "must have at most 1 items";
  c.statusInvalid = (_, obj) =>
    Object.keys(obj.status?.outputs ?? {}).length > 1 ? refusal : undefined;
  await reconcileTask(req(), c.context());
  agentPod(c, "Done.\n::kubetask-output a=1::\n::kubetask-output b=2::");
  finishJob(c, "Complete", "2029-12-31T23:59:30Z");
  const before = c.writes().length;
  await reconcileTask(req(), c.context());
  assert.deepEqual(c.writes().slice(before), ["updateStatus tasks/fix", "updateStatus tasks/fix"]);
  const status = statusOf(c);
  assert.equal(status.phase, "Completed");
  assert.equal(status.exitCode, 0, "the exit code is the kubelet's, not the agent's text");
  assert.equal(status.outputs, undefined);
  assert.equal(status.summary, undefined);
  const recorded = condition(c, "ResultRecorded");
  assert.equal(recorded.status, "False");
  assert.equal(recorded.reason, "AgentResultRejected");
  assert.equal(
    recorded.message,
    `status.summary, status.outputs not recorded: the apiserver refused the status: ${refusal}`,
  );
  assert.deepEqual(
    c.events.filter((e) => e.type === "Warning").map((e) => [e.reason, e.message]),
    [["AgentResultRejected", recorded.message]],
  );
  // Never retried as is: the next reconcile has nothing to write.
  await reconcileTask(req(), c.context());
  assert.equal(c.writes().length, before + 2);
});

Deno.test("reconcile: a status refused for something other than the agent's report is not rewritten", async () => {
  const c = setup();
  c.statusInvalid = () => 'Task.kubetask.io "fix" is invalid: status.jobName: Invalid value';
  await assert.rejects(reconcileTask(req(), c.context()), /status.jobName/);
  assert.deepEqual(c.writes().filter((w) => w.startsWith("updateStatus")), [
    "updateStatus tasks/fix",
  ]);
});

Deno.test("reconcile: past its TTL a finished Task is deleted with a uid precondition", async () => {
  const c = setup();
  c.seed(KubeTaskConfigResource, {
    metadata: { namespace: NS, name: "default" },
    spec: { taskLifecycle: { ttlSecondsAfterFinished: 60 } },
  });
  await reconcileTask(req(), c.context());
  finishJob(c, "Failed", "2030-01-01T00:00:00Z");
  const later = new Date("2030-01-01T00:02:00Z");
  await reconcileTask(req(), c.context(() => later));
  assert.equal(c.stored(TaskResource, NS, "fix"), undefined, "Task deleted");
  assert.equal(c.stored(JobResource, NS, "fix"), undefined, "its Job went with it");
  assert.ok(c.writes().includes("delete tasks/fix"));
});

Deno.test("reconcile: a named Agent that is missing leaves the Task Pending with a Warning and creates nothing", async () => {
  const c = setup({ agent: false });
  c.mutate(TaskResource, NS, "fix", (t) => (t.spec.agentRef = "claude"));
  const result = await reconcileTask(req(), c.context());
  assert.deepEqual(c.writes(), ["updateStatus tasks/fix"]);
  assert.equal(statusOf(c).phase, "Pending");
  assert.equal(condition(c, "Ready").reason, "AgentNotFound");
  assert.match(condition(c, "Ready").message, /Agent "claude" not found in namespace "team"/);
  assert.deepEqual(c.events.map((e) => [e.type, e.reason]), [["Warning", "AgentNotFound"]]);
  assert.equal(result.requeueAfterMs, undefined, "the Agent's creation wakes it, not a timer");
});

Deno.test("reconcile: a user's ConfigMap is read live, the Context from the cache", async () => {
  const c = setup();
  c.seed(ContextResource, {
    metadata: { namespace: NS, name: "guide" },
    spec: { type: "ConfigMap", configMap: { name: "guides", key: "a.md" } },
  });
  c.seed(ConfigMapResource, { metadata: { namespace: NS, name: "guides" }, data: { "a.md": "A" } });
  c.mutate(TaskResource, NS, "fix", (t) => (t.spec.contexts = [{ name: "guide" }]));
  await reconcileTask(req(), c.context());
  assert.deepEqual(
    c.calls.filter((x) => x.verb === "get").map((x) => `${x.resource}/${x.name}`),
    ["configmaps/guides"],
  );
  assert.match(c.stored(ConfigMapResource, NS, "fix-context")!.data["task.md"], /A\n<\/context>/);
});

Deno.test("reconcile: task.md gets the full description and Context text the cache left out", async () => {
  const c = setup();
  // Distinct lines at both ends, so a truncated copy could not pass for the whole.
  const description = `Start of the task\n${"d".repeat(200 * 1024)}\nEnd of the task`;
  const content = `First rule\n${"c".repeat(255 * 1024)}\nLast rule`;
  c.seed(ContextResource, {
    metadata: { namespace: NS, name: "guide" },
    spec: { type: "Inline", inline: { content } },
  });
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.spec.description = description;
    t.spec.contexts = [{ name: "guide" }];
  });
  // The caches hold neither text.
  assert.equal(c.get(TaskResource, NS, "fix")?.spec.description, undefined);
  assert.equal(c.get(ContextResource, NS, "guide")?.spec.inline.content, undefined);

  await reconcileTask(req(), c.context());
  const md = c.stored(ConfigMapResource, NS, "fix-context")!.data["task.md"];
  assert.equal(
    md,
    `${description}\n\n<context name="guide" namespace="${NS}" type="Inline">\n${content}\n` +
      "</context>\n",
  );
  assert.equal(statusOf(c).phase, "Pending", JSON.stringify(statusOf(c)));
  // Each read live once, by name.
  assert.deepEqual(
    c.calls.filter((x) => x.verb === "get").map((x) => `${x.resource}/${x.name}`).sort(),
    ["contexts/guide", "tasks/fix"],
  );
  // Started: a later reconcile reads neither again.
  c.calls.length = 0;
  await reconcileTask(req(), c.context());
  assert.deepEqual(c.calls.filter((x) => x.verb === "get"), []);
});

Deno.test("reconcile: a queued Task does not read the text the cache left out", async () => {
  const c = setup();
  c.mutate(AgentResource, NS, "default", (a) => (a.spec.maxConcurrentTasks = 1));
  c.seed(TaskResource, { metadata: { namespace: NS, name: "first" }, spec: {} });
  await reconcileTask(req("first"), c.context());
  c.mutate(TaskResource, NS, "fix", (t) => (t.spec.description = "d".repeat(100 * 1024)));
  c.calls.length = 0;
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Queued", JSON.stringify(statusOf(c)));
  assert.deepEqual(c.calls.filter((x) => x.verb === "get"), []);
});

Deno.test("reconcile: a Context the cache lacks yet is read live, not a ContextNotFound", async () => {
  const c = setup();
  c.mutate(TaskResource, NS, "fix", (t) => (t.spec.contexts = [{ name: "guide" }]));
  c.laggingCache = true; // the Context's watch event is still in flight
  c.seed(ContextResource, {
    metadata: { namespace: NS, name: "guide" },
    spec: { type: "Inline", inline: { content: "Use tabs." } },
  });
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Pending", JSON.stringify(statusOf(c)));
  assert.match(c.stored(ConfigMapResource, NS, "fix-context")!.data["task.md"], /Use tabs\./);
  assert.ok(c.calls.some((x) => x.verb === "get" && x.resource === "contexts"));
});

Deno.test("reconcile: a Context absent from the cache and the apiserver fails the Task", async () => {
  const c = setup();
  c.mutate(TaskResource, NS, "fix", (t) => (t.spec.contexts = [{ name: "guide" }]));
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Failed");
  assert.equal(condition(c, "Succeeded").reason, "ContextNotFound");
});

Deno.test("reconcile: a stale cache that misses our Job adopts it on AlreadyExists, no duplicate", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  // A restart: the cache is rebuilt from an old view without the Job or status.
  const stale = new FakeCluster();
  stale.seed(AgentResource, c.stored(AgentResource, NS, "default")!);
  for (const o of [c.stored(TaskResource, NS, "fix")!]) {
    stale.seed(TaskResource, { ...o, status: undefined });
  }
  stale.laggingCache = true;
  stale.seed(JobResource, c.stored(JobResource, NS, "fix")!);
  stale.seed(ConfigMapResource, c.stored(ConfigMapResource, NS, "fix-context")!);
  // The Task's uid must match the owner references it created.
  assert.equal(
    stale.stored(JobResource, NS, "fix")!.metadata?.ownerReferences?.[0].uid,
    stale.stored(TaskResource, NS, "fix")!.metadata?.uid,
  );
  await reconcileTask(req(), stale.context());
  assert.equal(stale.storedList(JobResource).length, 1);
  assert.deepEqual(stale.writes(), [
    "create configmaps/fix-context",
    "create jobs/fix",
    "updateStatus tasks/fix",
  ]);
  assert.equal(stale.stored<KubeObject>(TaskResource, NS, "fix")!.status.jobName, "fix");
});

Deno.test("reconcile: a Job our status names but the cache lacks is confirmed live before failing", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  c.laggingCache = true;
  c.sync(); // the cache has the status with jobName...
  // ...but loses the Job (say, its watch event is still in flight).
  const job = c.stored(JobResource, NS, "fix")!;
  await c.delete(JobResource, NS, "fix");
  c.sync();
  c.seed(JobResource, job); // back in the store, not in the (lagging) cache
  await reconcileTask(req(), c.context());
  assert.notEqual(statusOf(c).phase, "Failed", "a lagging cache is no reason to fail");

  await c.delete(JobResource, NS, "fix");
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Failed");
  assert.equal(condition(c, "Succeeded").reason, "JobNotFound");
});

Deno.test("reconcile: a Job name held by someone else is a NameConflict, retried later", async () => {
  const c = setup();
  c.seed(JobResource, {
    metadata: { namespace: NS, name: "fix", labels: { "kubetask.io/task": "fix" } },
  });
  const result = await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Pending");
  assert.equal(condition(c, "Ready").reason, "NameConflict");
  assert.equal(result.requeueAfterMs, NAME_CONFLICT_RETRY_MS);
  assert.ok(!c.writes().some((w) => w.startsWith("create jobs")), "never takes over a foreign Job");
});

Deno.test("reconcile: a foreign object discovered only at create time is a NameConflict too", async () => {
  const c = setup();
  c.laggingCache = true;
  c.sync();
  // Not in the cache (no Task label), so only the create finds it.
  c.seed(ConfigMapResource, { metadata: { namespace: NS, name: "fix-context" } });
  await reconcileTask(req(), c.context());
  assert.deepEqual(c.writes(), ["create configmaps/fix-context", "updateStatus tasks/fix"]);
  assert.equal(statusOf(c).conditions[0].reason, "NameConflict");
  assert.match(statusOf(c).conditions[0].message, /ConfigMap "fix-context" already exists/);
});

Deno.test("reconcile: a status write from a stale observation is a Conflict for the manager", async () => {
  const c = setup();
  c.laggingCache = true;
  c.sync();
  c.mutate(TaskResource, NS, "fix", (t) => (t.metadata!.labels = { touched: "yes" }));
  await assert.rejects(reconcileTask(req(), c.context()), ConflictError);
  // The retry, once the cache caught up, adopts what the first attempt created.
  c.sync();
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).jobName, "fix");
  assert.equal(c.storedList(JobResource).length, 1);
});

Deno.test("reconcile: a cache still behind our own status write is left alone, no 409", async () => {
  const c = setup();
  c.laggingCache = true;
  c.sync();
  // As the manager runs it: checked once before observing, status writes recorded.
  const ownWrites = new OwnWrites();
  const controller = { type: TaskResource, reconcile: reconcileTask };
  const reconcile = () => reconcileUnlessSuperseded(controller, req(), c.context(), ownWrites);
  await reconcile();
  const written = c.writes().length;
  const reads = c.calls.length - written;
  // Woken again (say by our new Job) while the cache still shows the old Task.
  await reconcile();
  assert.equal(c.writes().length, written, "nothing planned from the outdated copy is written");
  assert.equal(c.calls.length - written, reads, "nor read: nothing is observed");
  // Once the watch delivered our write, the reconcile sees it and has nothing to do.
  c.sync();
  await reconcile();
  assert.equal(c.writes().length, written);
  assert.equal(statusOf(c).jobName, "fix");
});

Deno.test("reconcile: a Job the apiserver refuses (422, 403) fails the Task with its message", async () => {
  const c = setup();
  const create = c.create.bind(c);
  c.create = (type, obj) =>
    type.plural === "jobs"
      ? Promise.reject(
        new ApiError(
          422,
          "Invalid",
          "POST jobs: 422",
          'Job "fix" is invalid: spec.template.labels',
        ),
      )
      : create(type, obj);
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Failed");
  assert.equal(condition(c, "Succeeded").reason, "JobRejected");
  assert.match(
    condition(c, "Succeeded").message,
    /the apiserver refused Job "fix": Job "fix" is invalid: spec.template.labels/,
  );
  assert.deepEqual(c.events.map((e) => [e.type, e.reason]), [["Warning", "JobRejected"]]);
});

Deno.test("reconcile: two contexts at one path fail the Task before anything is created", async () => {
  const c = setup();
  for (const name of ["a", "b"]) {
    c.seed(ContextResource, {
      metadata: { namespace: NS, name },
      spec: { type: "Inline", inline: { content: name } },
    });
  }
  c.mutate(
    TaskResource,
    NS,
    "fix",
    (t) =>
      t.spec.contexts = [{ name: "a", mountPath: "/workspace/x" }, {
        name: "b",
        mountPath: "/workspace/x",
      }],
  );
  await reconcileTask(req(), c.context());
  assert.deepEqual(c.writes(), ["updateStatus tasks/fix"]);
  assert.equal(condition(c, "Succeeded").reason, "MountPathConflict");
});

Deno.test("reconcile: a Task the schema refuses fails with the fields named, not just a log line", async () => {
  const c = setup();
  c.mutate(TaskResource, NS, "fix", (t) => (t.spec.agentRef = "../other"));
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c).phase, "Failed");
  assert.equal(condition(c, "Succeeded").reason, "InvalidSpec");
  assert.match(
    condition(c, "Succeeded").message,
    /spec\.agentRef: agentRef must be a Kubernetes object name/,
  );
  assert.ok(!c.writes().some((w) => w.startsWith("create")));
});

Deno.test("reconcile: a Job the cluster gives no pod shows the FailedCreate message on the Task", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  const failedCreate = (namespace: string, component: string, message: string) =>
    c.seed(EventResource, {
      metadata: { namespace, name: `fix.${component}` },
      involvedObject: { kind: "Job", name: "fix", uid: job.metadata?.uid },
      reason: "FailedCreate",
      source: { component },
      message,
      lastTimestamp: "2030-01-01T00:00:01Z",
    });
  // Forged: our Job's uid, written from another namespace, or by someone else here.
  failedCreate("elsewhere", "job-controller", "forged in another namespace");
  failedCreate(NS, "kubectl", "forged by another reporter");
  await reconcileTask(req(), c.context());
  assert.equal(condition(c, "Ready")?.reason, "JobCreated", "forged Events are not shown");
  failedCreate(NS, "job-controller", 'pods "fix-abc" is forbidden: exceeded quota: pods');
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c)?.phase, "Pending");
  assert.equal(condition(c, "Ready")?.reason, "FailedCreate");
  assert.match(condition(c, "Ready")?.message, /cannot create its pod: .*exceeded quota/);
  assert.ok(c.events.some((e) => e.reason === "FailedCreate" && e.type === "Warning"));
  // No second Job, no second ConfigMap: the Job controller keeps retrying by itself.
  assert.equal(c.writes().filter((w) => w.startsWith("create")).length, 2);
});

const annotate = (c: FakeCluster, annotations: Record<string, string>) =>
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.metadata = { ...t.metadata, annotations };
  });
const succeededReason = (c: FakeCluster) => condition(c, "Succeeded")?.reason;

Deno.test("reconcile: stop before the Job exists fails the Task as Stopped and starts nothing", async () => {
  const c = setup();
  annotate(c, { "kubetask.io/stop": "true" });
  await reconcileTask(req(), c.context());
  assert.deepEqual(c.writes(), ["updateStatus tasks/fix"]);
  assert.equal(statusOf(c)?.phase, "Failed");
  assert.equal(succeededReason(c), "Stopped");
  assert.ok(statusOf(c)?.completionTime);
  assert.ok(c.events.some((e) => e.reason === "Stopped" && e.type === "Normal"));
});

Deno.test("reconcile: stop while the Job has no pod suspends it; the Task is Stopped", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  annotate(c, { "kubetask.io/terminate": "true" }); // the Go operator's spelling
  await reconcileTask(req(), c.context());
  assert.equal(c.stored<KubeObject>(JobResource, NS, "fix")?.spec?.suspend, true);
  assert.equal(statusOf(c)?.phase, "Failed");
  assert.equal(succeededReason(c), "Stopped");
});

Deno.test("reconcile: stop while running ends the pod through the kubelet, then the Task is Stopped", async () => {
  const c = setup();
  await reconcileTask(req(), c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { active: 1, startTime: "2030-01-01T00:00:00Z" };
  });
  const pod = (name: string, uid: string) =>
    c.seed(PodResource, {
      metadata: { namespace: NS, name, labels: { "batch.kubernetes.io/controller-uid": uid } },
      status: { phase: "Running", startTime: "2029-12-31T23:59:00Z" },
    });
  pod("fix-abcde", job.metadata!.uid!);
  pod("other-job-pod", "someone-else");
  annotate(c, { "kubetask.io/stop": "true" });
  await reconcileTask(req(), c.context());
  assert.equal(c.stored<KubeObject>(PodResource, NS, "fix-abcde")?.spec?.activeDeadlineSeconds, 60);
  assert.equal(c.stored<KubeObject>(PodResource, NS, "other-job-pod")?.spec, undefined);
  assert.equal(c.stored<KubeObject>(JobResource, NS, "fix")?.spec?.suspend, undefined);
  assert.equal(statusOf(c)?.phase, "Running");
  assert.equal(succeededReason(c), "Stopping");

  // The kubelet killed it, the Job failed: the Task says it was stopped.
  finishJob(c, "Failed", "2030-01-01T00:00:02Z");
  await reconcileTask(req(), c.context());
  assert.equal(statusOf(c)?.phase, "Failed");
  assert.equal(succeededReason(c), "Stopped");
  assert.equal(statusOf(c)?.completionTime, "2030-01-01T00:00:02Z");
});

Deno.test("reconcile: a timeout wakes the Task at its deadline, then stops the agent as Timeout", async () => {
  const c = setup();
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.spec = { ...t.spec, timeout: "90s" };
  });
  await reconcileTask(req(), c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  assert.equal(job.metadata?.annotations?.["kubetask.io/timeout-seconds"], "90");
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { active: 1, startTime: "2030-01-01T00:00:00Z" };
  });
  // now is 2030-01-01T00:00:00Z: the deadline is 90 s away; no polling, one timer.
  assert.deepEqual(await reconcileTask(req(), c.context()), { requeueAfterMs: 90_000 });
  c.now = new Date("2030-01-01T00:01:30Z");
  await reconcileTask(req(), c.context());
  assert.equal(succeededReason(c), "Stopping");
  finishJob(c, "Failed", "2030-01-01T00:01:31Z");
  await reconcileTask(req(), c.context());
  assert.equal(succeededReason(c), "Timeout");
  assert.match(condition(c, "Succeeded")?.message, /longer than its timeout \(90s\)/);
});

Deno.test("reconcile: a Job that failed by itself before its deadline is JobFailed, not Timeout", async () => {
  const c = setup();
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.spec = { ...t.spec, timeout: "1h" };
  });
  await reconcileTask(req(), c.context());
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { startTime: "2030-01-01T00:00:00Z" };
  });
  finishJob(c, "Failed", "2030-01-01T00:10:00Z");
  c.now = new Date("2030-01-02T00:00:00Z"); // reconciled long after the deadline
  await reconcileTask(req(), c.context());
  assert.equal(succeededReason(c), "JobFailed");
});

Deno.test('reconcile: no agentRef and no Agent "default": the built-in Agent runs it, with a Normal Event', async () => {
  const c = setup({ agent: false });
  await reconcileTask(req(), c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix");
  const pod = job?.spec?.template?.spec;
  assert.equal(pod?.containers[0].image, "quay.io/kubetask/kubetask-agent-gemini:latest");
  assert.equal(pod?.serviceAccountName, "default");
  assert.equal(pod?.automountServiceAccountToken, false, "nobody chose to give it the token");
  const event = c.events.find((e) => e.reason === "BuiltInAgent");
  assert.equal(event?.type, "Normal");
  assert.match(event?.message ?? "", /built-in Agent/);
  // With an Agent named "default" present, that one is used and no such Event is recorded.
  const d = setup();
  await reconcileTask(req(), d.context());
  assert.equal(
    d.stored<KubeObject>(JobResource, NS, "fix")?.spec?.template?.spec?.containers[0].image,
    "agent:1",
  );
  assert.ok(!d.events.some((e) => e.reason === "BuiltInAgent"));
});

Deno.test("reconcile: the Task's status says which egress policy its pod runs under", async () => {
  const open = setup();
  await reconcileTask(req(), open.context());
  assert.deepEqual(statusOf(open).egress, { mode: "Unrestricted" });

  // Restricted: no pod before the Agent's NetworkPolicy is in force.
  const restricted = setup();
  restricted.mutate(AgentResource, NS, "default", (a) => {
    a.metadata = { ...a.metadata, generation: 2 };
    a.spec.egress = { mode: "Restricted" };
  });
  await reconcileTask(req(), restricted.context());
  assert.equal(restricted.stored(JobResource, NS, "fix"), undefined, "no Job yet");
  assert.equal(condition(restricted, "Ready").reason, "EgressPolicyPending");
  assert.match(condition(restricted, "Ready").message, /NetworkPolicy "kubetask-egress-default"/);

  // The egress controller's status for an older generation is not enough either.
  const inForce = (generation: number) => (a: KubeObject) => {
    a.status = {
      observedGeneration: generation,
      egress: { mode: "Restricted", networkPolicy: "kubetask-egress-default" },
    };
  };
  restricted.mutate(AgentResource, NS, "default", inForce(1));
  await reconcileTask(req(), restricted.context());
  assert.equal(restricted.stored(JobResource, NS, "fix"), undefined, "not for an older spec");

  restricted.mutate(AgentResource, NS, "default", inForce(2));
  await reconcileTask(req(), restricted.context());
  assert.ok(restricted.stored(JobResource, NS, "fix"), "the Job, once the policy is in force");
  assert.deepEqual(statusOf(restricted).egress, {
    mode: "Restricted",
    networkPolicy: "kubetask-egress-default",
  });

  // The operator's --default-egress, for an Agent that sets no mode.
  const byFlag = setup();
  await reconcileTask(req(), byFlag.context(), { gitImage: "git", defaultEgress: "Restricted" });
  assert.equal(condition(byFlag, "Ready").reason, "EgressPolicyPending");
});

Deno.test('reconcile: an Agent "default" applied with the Task but not cached yet is used, not the built-in one', async () => {
  // Seen on the real node: `kubectl apply` of the Agent and the Task together, the Agent's
  // watch event a moment behind, and the Task ran on the built-in Agent (another image, no
  // node selector: its pod landed on a fake node).
  const c = setup({ agent: false });
  c.laggingCache = true;
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default" },
    spec: { agentImage: "agent:1", serviceAccountName: "sa", workspaceDir: "/workspace" },
  });
  assert.equal(c.get(AgentResource, NS, "default"), undefined, "not cached yet");
  await reconcileTask(req(), c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  assert.equal(job.spec.template.spec.containers[0].image, "agent:1");
  assert.ok(
    c.calls.some((x) => x.verb === "get" && x.resource === "agents"),
    "asked the apiserver",
  );
});
