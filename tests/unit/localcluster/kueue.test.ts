// The local Kueue's webhook configurations and config file, from the module's
// own manifests (the module is in Go's module cache once Kueue was built, or
// is downloaded here).
import assert from "assert";
import { parse } from "yaml";
import { kueueCrds, kueueWebhookManifests } from "../../../localcluster/binaries.ts";
import { kueueConfigYaml, kueueWebhookConfigurations } from "../../../localcluster/kueue.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

Deno.test("kueue: only the webhooks it serves (its kinds, Jobs), each at the loopback URL with our CA", async () => {
  const configs = kueueWebhookConfigurations(
    await kueueWebhookManifests(),
    "https://127.0.0.1:9443",
    CA,
  );
  assert.deepEqual(configs.map((c) => c.kind).sort(), [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
  ]);
  const all = configs.flatMap((c) => c.webhooks);
  const names = all.map((w) => w.name).sort();
  // Jobs and Kueue's own kinds; never pods, deployments, or kinds not installed here.
  assert.ok(names.includes("mjob.kb.io") && names.includes("vjob.kb.io"), names.join(","));
  assert.ok(names.includes("vworkload.kb.io") && names.includes("vclusterqueue.kb.io"));
  for (const absent of ["mpod.kb.io", "vdeployment.kb.io", "mrayjob.kb.io", "mjobset.kb.io"]) {
    assert.ok(!names.includes(absent), `${absent} is not registered`);
  }
  for (const w of all) {
    assert.equal(w.clientConfig.service, undefined);
    assert.match(w.clientConfig.url, /^https:\/\/127\.0\.0\.1:9443\/(mutate|validate)-/);
    assert.equal(atob(w.clientConfig.caBundle), CA);
  }
});

Deno.test("kueue: the config enables batch/job only, manages only Jobs naming a queue, no cert manager", () => {
  const config = parse(kueueConfigYaml({ webhookPort: 1, healthPort: 2, certDir: "/c" }));
  assert.deepEqual(config.integrations.frameworks, ["batch/job"]);
  assert.equal(config.manageJobsWithoutQueueName, false);
  assert.equal(config.internalCertManagement.enable, false);
  assert.equal(config.webhook.host, "127.0.0.1");
  assert.equal(config.webhook.certDir, "/c");
  assert.equal(config.leaderElection.leaderElect, false);
  assert.equal(config.featureGates.VisibilityOnDemand, false);
  assert.equal(config.clientConnection, undefined, "Kueue's own client limits unless asked");
});

Deno.test("kueue: client limits asked for go into clientConnection; a non-positive one is refused", () => {
  const ports = { webhookPort: 1, healthPort: 2, certDir: "/c" };
  const config = parse(kueueConfigYaml({ ...ports, clientQps: 200, clientBurst: 300 }));
  assert.deepEqual(config.clientConnection, { qps: 200, burst: 300 });
  assert.throws(() => kueueConfigYaml({ ...ports, clientQps: 0 }), /qps must be > 0/);
  assert.throws(() => kueueConfigYaml({ ...ports, clientBurst: NaN }), /burst must be > 0/);
});

Deno.test("kueue: its CRDs come from the module, Workloads and queues among them", async () => {
  const files = (await kueueCrds()).map((f) => f.split("/").pop());
  for (const kind of ["workloads", "clusterqueues", "localqueues", "resourceflavors"]) {
    assert.ok(files.includes(`kueue.x-k8s.io_${kind}.yaml`), files.join(","));
  }
});
