// How changes to watched objects map to Task keys, over the in-memory cache.
import assert from "assert";
import {
  AGENT_INDEX,
  jobForCache,
  mapAgentToTasks,
  mapConfigToTasks,
  mapContextToTasks,
  mapGrantToTasks,
  mapJobToTask,
  taskController,
} from "../../../controllers/task/controller.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

function cluster(): FakeCluster {
  const c = new FakeCluster();
  c.addIndex(TaskResource, AGENT_INDEX, taskController.indexes![AGENT_INDEX]);
  const task = (namespace: string, name: string, spec: object, phase?: string) =>
    c.seed(TaskResource, {
      metadata: { namespace, name },
      spec,
      ...(phase ? { status: { phase, jobName: name } } : {}),
    });
  task("a", "uses-default", {});
  task("a", "uses-claude", { agentRef: "claude" });
  task(
    "a",
    "done",
    { agentRef: "claude", contexts: [{ name: "guide", namespace: "shared" }] },
    "Completed",
  );
  task("a", "reads-guide", { contexts: [{ name: "guide", namespace: "shared" }] });
  task("a", "running", { contexts: [{ name: "guide", namespace: "shared" }] }, "Running");
  task("b", "other-ns", {}, "Running");
  task("b", "via-agent", { agentRef: "with-guide" });
  c.seed(AgentResource, {
    metadata: { namespace: "b", name: "with-guide" },
    spec: { contexts: [{ name: "local" }] },
  });
  return c;
}
const names = (reqs: { name: string }[]) => reqs.map((r) => r.name).sort();

Deno.test("watch: a Job maps to the Task that controls it, nothing else does", () => {
  const ref = { apiVersion: "kubetask.io/v1alpha1", kind: "Task", name: "t", uid: "u" };
  const owned = (controller: boolean) => ({
    metadata: { namespace: "a", name: "j", ownerReferences: [{ ...ref, controller }] },
  });
  assert.deepEqual(mapJobToTask(owned(true)), [{ kind: "Task", namespace: "a", name: "t" }]);
  assert.deepEqual(mapJobToTask(owned(false)), []);
  assert.deepEqual(mapJobToTask({ metadata: { namespace: "a", name: "plain" } }), []);
});

Deno.test("watch: an Agent maps to the not-yet-started Tasks that run with it (agentRef defaults to default)", () => {
  const c = cluster();
  assert.deepEqual(names(mapAgentToTasks({ metadata: { namespace: "a", name: "default" } }, c)), [
    "reads-guide",
    "uses-default",
  ]);
  // "done" names claude too, but a started Task never reads its Agent again.
  assert.deepEqual(names(mapAgentToTasks({ metadata: { namespace: "a", name: "claude" } }, c)), [
    "uses-claude",
  ]);
  assert.deepEqual(
    names(mapAgentToTasks({ metadata: { namespace: "c", name: "default" } }, c)),
    [],
  );
});

Deno.test("watch: a Context maps to not-yet-started Tasks naming it directly or through their Agent", () => {
  const c = cluster();
  assert.deepEqual(
    names(mapContextToTasks({ metadata: { namespace: "shared", name: "guide" } }, c)),
    ["reads-guide"],
  );
  assert.deepEqual(
    names(mapContextToTasks({ metadata: { namespace: "b", name: "local" } }, c)),
    ["via-agent"],
  );
  assert.deepEqual(
    names(mapContextToTasks({ metadata: { namespace: "a", name: "local" } }, c)),
    [],
  );
});

Deno.test("watch: KubeTaskConfig 'default' maps to every Task of its namespace, others to none", () => {
  const c = cluster();
  assert.deepEqual(names(mapConfigToTasks({ metadata: { namespace: "b", name: "default" } }, c)), [
    "other-ns",
    "via-agent",
  ]);
  assert.deepEqual(mapConfigToTasks({ metadata: { namespace: "b", name: "other" } }, c), []);
});

Deno.test("cache: a Job is kept without its pod template", () => {
  const job = {
    metadata: { name: "j" },
    spec: { backoffLimit: 0, suspend: false, template: { spec: { containers: [] } } },
    status: { active: 1 },
  };
  assert.deepEqual(jobForCache(job), {
    metadata: { name: "j" },
    spec: { backoffLimit: 0, suspend: false },
    status: { active: 1 },
  });
});

Deno.test("watch: a ContextGrant maps to not-yet-started Tasks naming any Context of its namespace", () => {
  const c = cluster();
  assert.deepEqual(
    names(mapGrantToTasks({ metadata: { namespace: "shared", name: "g" } }, c)),
    ["reads-guide"],
  );
  assert.deepEqual(
    names(mapGrantToTasks({ metadata: { namespace: "b", name: "g" } }, c)),
    ["via-agent"],
  );
  assert.deepEqual(names(mapGrantToTasks({ metadata: { namespace: "nobody", name: "g" } }, c)), []);
});
