import assert from "assert";
import { ownership } from "../../bench/e2e/ownership.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";

const task = (name: string): KubeObject => ({
  metadata: { name, namespace: "a", uid: `u-${name}` },
});
const job = (name: string, owner: string, controller = true): KubeObject => ({
  metadata: {
    name,
    namespace: "a",
    ownerReferences: [{
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Task",
      name: owner,
      uid: `u-${owner}`,
      controller,
    }],
  },
});

Deno.test("ownership: a Task with two Jobs is a duplicate, one with none is lost", () => {
  const got = ownership(
    [task("one"), task("two"), task("three")],
    [
      job("one", "one"),
      job("two", "two"),
      job("two-b", "two"),
      job("x", "gone"),
      job("y", "three", false),
    ],
  );
  assert.deepEqual(got, { duplicates: ["a/two"], lost: ["a/three"], orphans: ["a/x"] });
});
