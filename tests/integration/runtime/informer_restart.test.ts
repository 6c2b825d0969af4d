// An informer rides out an apiserver outage: after the apiserver is stopped
// and started again it re-lists/re-watches by itself and sees new objects.
//
// This stops the apiserver of the test cluster, so it only runs on a cluster
// started for tests (KUBETASK_TEST_CLUSTER set, and never the shared "dev").
import assert from "assert";
import { startComponent, stopComponent } from "../../cluster/cluster.ts";
import { Informer, type InformerEventType } from "../../../controllers/runtime/informer.ts";
import { RestKubeClient } from "../../../controllers/runtime/kube.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ConfigMapResource } from "../../../controllers/runtime/resources.ts";
import { clusterState, eventually, kubeConfig, kubectl, testNamespace } from "../env.ts";

const clusterName = Deno.env.get("KUBETASK_TEST_CLUSTER");
const ownCluster = !!clusterName && clusterName !== "dev" && (await clusterState()) !== undefined;

Deno.test({
  name: "informer: keeps watching across an apiserver stop and restart",
  ignore: !ownCluster,
  async fn() {
    const state = (await clusterState())!;
    const ns = await testNamespace("rt-informer");
    const client = new RestKubeClient(kubeConfig());
    let restarts = 0;
    const informer = new Informer({
      transport: client.transport,
      type: ConfigMapResource,
      namespaces: [ns.name],
      log: silentLogger,
      metrics: { watchRestarted: () => restarts++ },
      backoffMs: { min: 100, max: 1000 },
    });
    const seen: { type: InformerEventType; name: string }[] = [];
    informer.on((type, obj) => seen.push({ type, name: obj.metadata!.name! }));
    informer.start();
    try {
      await informer.synced;
      await kubectl(["create", "configmap", "before", "-n", ns.name]);
      await eventually("'before' in cache", () => Promise.resolve(informer.get(ns.name, "before")));

      await stopComponent(state, "kube-apiserver");
      await eventually("informer noticed the outage", () => Promise.resolve(restarts > 0));
      await startComponent(state, "kube-apiserver");
      await eventually(
        "apiserver ready again",
        async () => (await kubectl(["get", "--raw", "/readyz"])).trim() === "ok",
        90_000,
      );

      await kubectl(["create", "configmap", "after", "-n", ns.name]);
      await kubectl(["delete", "configmap", "before", "-n", ns.name]);
      await eventually("'after' added and 'before' deleted, seen by the same informer", () =>
        Promise.resolve(
          seen.some((e) => e.type === "add" && e.name === "after") &&
            seen.some((e) => e.type === "delete" && e.name === "before"),
        ), 60_000);
      assert.ok(informer.get(ns.name, "after"));
      assert.equal(informer.get(ns.name, "before"), undefined);
      assert.equal(seen.filter((e) => e.type === "add" && e.name === "after").length, 1, "no duplicate add");
    } finally {
      await informer.stop();
      await client.transport.close();
      await ns.cleanup();
    }
  },
});
