import assert from "assert";
import {
  mapAgentToTasks,
  mapConfigToTasks,
  mapContextToTasks,
  mapOwnedToTask,
} from "../../../controllers/task/controller.ts";
import type { KubeObject, PrimaryCache } from "../../../controllers/runtime/types.ts";

const tasks: KubeObject[] = [
  { metadata: { namespace: "a", name: "uses-default" }, spec: {} },
  { metadata: { namespace: "a", name: "uses-claude" }, spec: { agentRef: "claude" } },
  {
    metadata: { namespace: "a", name: "done" },
    spec: { agentRef: "claude", contexts: [{ name: "guide", namespace: "shared" }] },
    status: { phase: "Completed" },
  },
  { metadata: { namespace: "b", name: "other-ns" }, spec: {}, status: { phase: "Running" } },
];
const cache: PrimaryCache = {
  list: (ns) => ns === undefined ? tasks : tasks.filter((t) => t.metadata?.namespace === ns),
};
const names = (reqs: { name: string }[]) => reqs.map((r) => r.name).sort();

Deno.test("watch: owned Jobs and ConfigMaps map to their Task", () => {
  const job = {
    metadata: {
      namespace: "a",
      name: "j",
      ownerReferences: [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        name: "t",
        uid: "u",
        controller: true,
      }],
    },
  };
  assert.deepEqual(mapOwnedToTask(job), [{ kind: "Task", namespace: "a", name: "t" }]);
  assert.deepEqual(mapOwnedToTask({ metadata: { namespace: "a", name: "plain" } }), []);
});

Deno.test("watch: an Agent maps to the Tasks naming it (agentRef defaults to default)", () => {
  assert.deepEqual(
    names(mapAgentToTasks({ metadata: { namespace: "a", name: "default" } }, cache)),
    [
      "uses-default",
    ],
  );
  assert.deepEqual(
    names(mapAgentToTasks({ metadata: { namespace: "a", name: "claude" } }, cache)),
    [
      "done",
      "uses-claude",
    ],
  );
});

Deno.test("watch: a Context maps to Tasks referencing it and unfinished Tasks of its namespace", () => {
  assert.deepEqual(
    names(mapContextToTasks({ metadata: { namespace: "shared", name: "guide" } }, cache)),
    [
      "done",
    ],
  );
  assert.deepEqual(names(mapContextToTasks({ metadata: { namespace: "a", name: "x" } }, cache)), [
    "uses-claude",
    "uses-default",
  ]);
});

Deno.test("watch: the namespace's KubeTaskConfig default maps to all its Tasks", () => {
  assert.equal(
    mapConfigToTasks({ metadata: { namespace: "a", name: "default" } }, cache).length,
    3,
  );
  assert.deepEqual(mapConfigToTasks({ metadata: { namespace: "a", name: "other" } }, cache), []);
});
