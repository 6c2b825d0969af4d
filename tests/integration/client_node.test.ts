// Proves @kubernetes/client-node works under Deno against the real apiserver:
// apply a CRD, create an object, watch it change, delete it.
import assert from "assert";
import * as k8s from "@kubernetes/client-node";
import { eventually, kubeConfig, testNamespace } from "./env.ts";

const crd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.smoke.kubetask.io" },
  spec: {
    group: "smoke.kubetask.io",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: { spec: { type: "object", properties: { size: { type: "integer" } } } },
        },
      },
    }],
  },
};

Deno.test("client-node: CRD, create, watch, delete against the real apiserver", async () => {
  const kc = kubeConfig();
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await ext.deleteCustomResourceDefinition({ name: crd.metadata.name }).catch(() => {});
  await eventually("old CRD gone", async () => {
    try {
      await ext.readCustomResourceDefinition({ name: crd.metadata.name });
      return false;
    } catch {
      return true;
    }
  });
  await ext.createCustomResourceDefinition({ body: crd });
  await eventually("CRD established", async () => {
    const got = await ext.readCustomResourceDefinition({ name: crd.metadata.name });
    return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
  });

  const ns = await testNamespace("smoke");
  const objects = kc.makeApiClient(k8s.CustomObjectsApi);
  // A just-established CRD can take a moment to be served; list until it is.
  await eventually("widgets served", async () => {
    await objects.listNamespacedCustomObject({
      group: "smoke.kubetask.io",
      version: "v1",
      namespace: ns.name,
      plural: "widgets",
    });
    return true;
  });
  const seen: { type: string; size?: number }[] = [];
  const watch = new k8s.Watch(kc);
  const request = await watch.watch(
    `/apis/smoke.kubetask.io/v1/namespaces/${ns.name}/widgets`,
    {},
    (type, obj) => seen.push({ type, size: obj?.spec?.size }),
    (err) => {
      if (err) seen.push({ type: `ERROR ${err}` });
    },
  );
  try {
    await objects.createNamespacedCustomObject({
      group: "smoke.kubetask.io",
      version: "v1",
      namespace: ns.name,
      plural: "widgets",
      body: {
        apiVersion: "smoke.kubetask.io/v1",
        kind: "Widget",
        metadata: { name: "w1" },
        spec: { size: 1 },
      },
    });
    await eventually("ADDED event", () => Promise.resolve(seen.some((e) => e.type === "ADDED")));
    await objects.patchNamespacedCustomObject(
      {
        group: "smoke.kubetask.io",
        version: "v1",
        namespace: ns.name,
        plural: "widgets",
        name: "w1",
        body: { spec: { size: 2 } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await eventually(
      "MODIFIED event with size 2",
      () => Promise.resolve(seen.some((e) => e.type === "MODIFIED" && e.size === 2)),
    );
    await objects.deleteNamespacedCustomObject({
      group: "smoke.kubetask.io",
      version: "v1",
      namespace: ns.name,
      plural: "widgets",
      name: "w1",
    });
    await eventually(
      "DELETED event",
      () => Promise.resolve(seen.some((e) => e.type === "DELETED")),
    );
    assert.deepEqual(seen.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
  } finally {
    request.abort();
    await ns.cleanup();
    await ext.deleteCustomResourceDefinition({ name: crd.metadata.name }).catch(() => {});
  }
});
