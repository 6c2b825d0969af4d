// An informer rides out an apiserver outage: after the apiserver is stopped
// and started again it re-lists/re-watches by itself and sees new objects.
//
// Stopping an apiserver disturbs every other client of it (kube-scheduler in
// particular did not resume scheduling afterwards), so this test starts a
// private control plane of its own instead of touching the shared one.
import assert from "assert";
import { down, kubectl, startComponent, stopComponent, up } from "../../../localcluster/cluster.ts";
import { Informer, type InformerEventType } from "../../../controllers/runtime/informer.ts";
import { AccessProvider } from "../../../controllers/runtime/access.ts";
import { ApiTransport } from "../../../controllers/runtime/transport.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ConfigMapResource } from "../../../controllers/runtime/resources.ts";
import { eventually } from "../env.ts";

Deno.test("informer: keeps watching across an apiserver stop and restart", async () => {
  const clusterName = `rt-restart-${crypto.randomUUID().slice(0, 6)}`;
  const state = await up(clusterName, { realNode: false });
  const transport = new ApiTransport(await AccessProvider.load({ kubeconfig: state.kubeconfig }));
  const ns = "default";
  let restarts = 0;
  const informer = new Informer({
    transport,
    type: ConfigMapResource,
    namespaces: [ns],
    log: silentLogger,
    metrics: { watchRestarted: () => restarts++ },
    backoffMs: { min: 100, max: 1000 },
  });
  const seen: { type: InformerEventType; name: string }[] = [];
  informer.on((type, obj) => seen.push({ type, name: obj.metadata!.name! }));
  try {
    informer.start();
    await informer.synced;
    await kubectl(state, ["create", "configmap", "before", "-n", ns]);
    await eventually("'before' in cache", () => Promise.resolve(informer.get(ns, "before")));

    await stopComponent(state, "kube-apiserver");
    await eventually("informer noticed the outage", () => Promise.resolve(restarts > 0));
    await startComponent(state, "kube-apiserver");
    await eventually(
      "apiserver ready again",
      async () => (await kubectl(state, ["get", "--raw", "/readyz"])).trim() === "ok",
      90_000,
    );

    await kubectl(state, ["create", "configmap", "after", "-n", ns]);
    await kubectl(state, ["delete", "configmap", "before", "-n", ns]);
    await eventually(
      "'after' added and 'before' deleted, seen by the same informer",
      () =>
        Promise.resolve(
          seen.some((e) => e.type === "add" && e.name === "after") &&
            seen.some((e) => e.type === "delete" && e.name === "before"),
        ),
      60_000,
    );
    assert.ok(informer.get(ns, "after"));
    assert.equal(informer.get(ns, "before"), undefined);
    assert.equal(
      seen.filter((e) => e.type === "add" && e.name === "after").length,
      1,
      "no duplicate add",
    );
  } finally {
    await informer.stop();
    await transport.close();
    await down(clusterName);
  }
});
