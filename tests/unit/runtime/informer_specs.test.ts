// The controllers main.ts runs share one informer per type: they must agree on
// what each cache keeps, or the manager refuses to start.
import assert from "assert";
import { createControllers } from "../../../controllers/registry.ts";
import { informerSpecs } from "../../../controllers/runtime/manager.ts";
import { typeKey } from "../../../controllers/runtime/cache.ts";
import { ContextResource, TaskResource } from "../../../controllers/kinds.ts";
import type { Controller } from "../../../controllers/runtime/types.ts";
import { contextForCache, taskForCache } from "../../../controllers/task/large_text.ts";

Deno.test("informer specs: the operator's controllers agree on every cache, large text left out", () => {
  const specs = informerSpecs(createControllers({ gitImage: "git:1" }));
  assert.equal(specs.get(typeKey(TaskResource))?.transform, taskForCache);
  assert.equal(specs.get(typeKey(ContextResource))?.transform, contextForCache);
});

Deno.test("informer specs: two readers of one type with different transforms are refused", () => {
  const reader = (transform?: Controller["transform"]): Controller => ({
    kind: `K${Math.random()}`,
    type: { apiVersion: "v1", kind: "X", plural: "xs", namespaced: true },
    watches: [{ type: TaskResource, transform, map: () => [] }],
    reconcile: () => Promise.resolve({}),
  });
  assert.doesNotThrow(() => informerSpecs([reader(taskForCache), reader(taskForCache)]));
  assert.throws(
    () => informerSpecs([reader(taskForCache), reader()]),
    /tasks are watched with two different selectors or transforms/,
  );
});
