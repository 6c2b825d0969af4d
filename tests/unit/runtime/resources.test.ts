// Request paths are built only from names: "." and ".." would otherwise be
// normalised into a different path (the collection instead of the object).
import assert from "assert";
import { ConfigMapResource, resourcePath } from "../../../controllers/runtime/resources.ts";
import { TaskResource } from "../../../controllers/kinds.ts";

Deno.test("resourcePath: objects, collections, all namespaces", () => {
  assert.equal(resourcePath(ConfigMapResource, "a", "b"), "/api/v1/namespaces/a/configmaps/b");
  assert.equal(resourcePath(TaskResource, "a"), "/apis/kubetask.io/v1alpha1/namespaces/a/tasks");
  assert.equal(resourcePath(TaskResource, ""), "/apis/kubetask.io/v1alpha1/tasks");
});

Deno.test("resourcePath: '.', '..', '' and slashes are refused, never sent", () => {
  for (const name of ["..", ".", "", "a/b"]) {
    assert.throws(() => resourcePath(ConfigMapResource, "ns", name), /invalid ConfigMap name/);
  }
  for (const namespace of ["..", ".", "x/y"]) {
    assert.throws(() => resourcePath(ConfigMapResource, namespace, "cm"), /invalid namespace/);
  }
});
