// The manager in-process against the real apiserver: informers feed the queue,
// reconcilers run, errors are retried, owned objects map to their owner, and
// /metrics shows what happened.
import assert from "assert";
import { startManager } from "../../../controllers/runtime/manager.ts";
import {
  ConfigMapResource,
  JobResource,
  SecretResource,
} from "../../../controllers/runtime/resources.ts";
import type { Controller, KubeObject, Request } from "../../../controllers/runtime/types.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";

/** A controller over ConfigMaps that records what it was asked to reconcile. */
function recordingController(opts: { failFirst?: string } = {}) {
  const seen: Request[] = [];
  let failed = false;
  const controller: Controller = {
    kind: "ConfigMap",
    type: ConfigMapResource,
    watches: [{
      type: SecretResource,
      // Secrets owned by a ConfigMap wake their owner.
      map: (obj: KubeObject) =>
        (obj.metadata?.ownerReferences ?? [])
          .filter((r) => r.kind === "ConfigMap")
          .map((r) => ({ kind: "ConfigMap", namespace: obj.metadata!.namespace!, name: r.name })),
    }],
    async reconcile(req, ctx) {
      seen.push(req);
      if (req.name === opts.failFirst && !failed) {
        failed = true;
        throw new Error("transient failure");
      }
      // From the cache: the object that triggered this reconcile is there.
      const cm = ctx.cache.get(ConfigMapResource, req.namespace, req.name);
      if (cm && cm.metadata?.annotations?.["reconciled-at"] === undefined) {
        await ctx.client.patch(ConfigMapResource, req.namespace, req.name, {
          metadata: { annotations: { "reconciled-at": ctx.now().toISOString() } },
        });
        ctx.events.event(cm, "Normal", "Reconciled", "seen by the test controller");
      }
      return {};
    },
  };
  return { controller, seen };
}

Deno.test("manager: reconciles primary objects, retries failures and maps owned objects", async () => {
  const ns = await testNamespace("rt-mgr");
  const { controller, seen } = recordingController({ failFirst: "flaky" });
  const fixedNow = new Date("2030-01-02T03:04:05.000Z");
  const mgr = await startManager({
    controllers: [controller],
    namespaces: [ns.name],
    leaderElection: false,
    metricsAddr: "127.0.0.1:0",
    metricsSecure: false, // plain HTTP on loopback: the test reads its own metrics
    now: () => fixedNow,
  });
  try {
    await mgr.ready;
    const annotationsOf = (name: string) =>
      kubectl(["get", "configmap", name, "-n", ns.name, "-o", "jsonpath={.metadata.annotations}"]);
    await kubectl(["create", "configmap", "plain", "-n", ns.name]);
    await kubectl(["create", "configmap", "flaky", "-n", ns.name]);

    // The reconciler saw the injected clock and wrote through the client.
    await eventually("plain annotated", async () => {
      const out = await annotationsOf("plain");
      return out.includes("2030-01-02T03:04:05.000Z");
    });
    // A failed reconcile is retried until it succeeds.
    await eventually("flaky annotated after a retry", async () => {
      const out = await annotationsOf("flaky");
      return out.includes("reconciled-at");
    });
    // An Event was recorded about the object.
    await eventually("event recorded", async () => {
      const out = await kubectl([
        "get",
        "events",
        "-n",
        ns.name,
        "-o",
        "jsonpath={.items[*].reason}",
      ]);
      return out.includes("Reconciled");
    });

    // A Secret owned by "plain" enqueues "plain".
    const uid = (await kubectl([
      "get",
      "configmap",
      "plain",
      "-n",
      ns.name,
      "-o",
      "jsonpath={.metadata.uid}",
    ])).trim();
    const before = seen.filter((r) => r.name === "plain").length;
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: "owned",
          namespace: ns.name,
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "plain", uid }],
        },
        stringData: { a: "b" },
      }),
    );
    await eventually(
      "owner reconciled after owned Secret changed",
      () => Promise.resolve(seen.filter((r) => r.name === "plain").length > before),
    );

    // The cache of the primary type holds what the apiserver has.
    assert.ok(mgr.cache.list(ConfigMapResource, ns.name).some((o) => o.metadata?.name === "flaky"));
    // Only watched types can be read from the cache.
    assert.throws(() => mgr.cache.list(JobResource, ns.name), /not watched/);

    const res = await fetch(`http://127.0.0.1:${mgr.metricsAddr!.port}/metrics`);
    const text = await res.text();
    assert.match(text, /kubetask_reconcile_errors_total\{kind="ConfigMap"\} 1\n/);
    assert.match(text, /kubetask_workqueue_retries_total [1-9]/);
    assert.match(text, /kubetask_reconcile_duration_seconds_count\{kind="ConfigMap"\} [1-9]/);
    assert.match(text, /kubetask_leader 1/);
    // Every request the manager sent is counted, by method and code.
    assert.match(text, /kubetask_api_requests_total\{method="PATCH",code="200"\} [1-9]/);
    assert.match(text, /kubetask_cached_objects [1-9]/);
    const ready = await fetch(`http://127.0.0.1:${mgr.metricsAddr!.port}/readyz`);
    await ready.body?.cancel();
    assert.equal(ready.status, 200);
  } finally {
    await mgr.stop();
    await ns.cleanup();
  }
});

Deno.test("manager: requeueAfterMs reconciles the key again without any change", async () => {
  const ns = await testNamespace("rt-requeue");
  let count = 0;
  const controller: Controller = {
    kind: "ConfigMap",
    type: ConfigMapResource,
    watches: [],
    reconcile: (req) => {
      if (req.name === "tick") count++;
      return Promise.resolve(count < 3 ? { requeueAfterMs: 50 } : {});
    },
  };
  const mgr = await startManager({
    controllers: [controller],
    namespaces: [ns.name],
    leaderElection: false,
    metricsAddr: false,
  });
  try {
    await mgr.ready;
    await kubectl(["create", "configmap", "tick", "-n", ns.name]);
    await eventually("three reconciles of one unchanged object", () => Promise.resolve(count >= 3));
  } finally {
    await mgr.stop();
    await ns.cleanup();
  }
});

Deno.test("manager: stop() waits for an in-flight reconcile to finish", async () => {
  const ns = await testNamespace("rt-stop");
  let started = false;
  let finished = false;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const controller: Controller = {
    kind: "ConfigMap",
    type: ConfigMapResource,
    watches: [],
    async reconcile(req) {
      if (req.name !== "slow") return {};
      started = true;
      await gate;
      finished = true;
      return {};
    },
  };
  const mgr = await startManager({
    controllers: [controller],
    namespaces: [ns.name],
    leaderElection: false,
    metricsAddr: false,
  });
  try {
    await mgr.ready;
    await kubectl(["create", "configmap", "slow", "-n", ns.name]);
    await eventually("reconcile started", () => Promise.resolve(started));
    const stopping = mgr.stop();
    release();
    await stopping;
    assert.equal(finished, true, "stop() returned only after the reconcile finished");
  } finally {
    await mgr.stop();
    await ns.cleanup();
  }
});
