// The Git proxy sidecar as a real apiserver takes it: the Job's pod, admitted
// under Pod Security "restricted", has the native sidecar first and the Git
// credentials only there; a repository URL with credentials in it is refused
// by the CRD before any controller sees it.
import assert from "assert";
import { eventually, kubectl } from "../env.ts";
import { TaskHarness } from "./harness.ts";

Deno.test("git proxy: the pod has the native sidecar first, the only container with Git credentials", async () => {
  const h = await TaskHarness.start({
    settings: () => ({
      gitImage: "git.test/git:1",
      gitProxy: { image: "kubetask.test/kubetask:1", command: ["/kubetask"] },
    }),
  });
  try {
    await kubectl(["label", "namespace", h.ns, "pod-security.kubernetes.io/enforce=restricted"]);
    await h.agent("coder", {
      securityContext: { runAsNonRoot: true, runAsUser: 65532 },
      credentials: [
        { name: "key", secretRef: { name: "creds", key: "api-key" }, env: "API_KEY" },
        { name: "git-token", secretRef: { name: "creds", key: "git-token" }, env: "GIT_TOKEN" },
      ],
    });
    await h.context("app", {
      type: "Git",
      git: { repository: "https://git.example.test/org/app.git", secretRef: { name: "app-git" } },
    });
    await h.context("ops", {
      type: "Git",
      git: { repository: "ssh://git@git.example.test/org/ops.git", secretRef: { name: "ops" } },
    });
    await h.task("fix", {
      agentRef: "coder",
      contexts: [
        { name: "app", mountPath: "/workspace/app" },
        { name: "ops", mountPath: "/workspace/ops" },
      ],
    });
    const pod = await eventually("the pod of fix exists", async () => {
      const pods = await h.list("pods");
      return pods.find((p) => p.metadata.labels?.["job-name"] === "fix");
    }, 60_000);
    const inits = pod.spec.initContainers;
    assert.deepEqual(inits.map((c: { name: string }) => c.name), [
      "git-proxy",
      "git-clone-0",
      "git-clone-1",
    ]);
    // Kept by the apiserver: a sidecar it runs as such, waited for before the clones.
    assert.equal(inits[0].restartPolicy, "Always");
    assert.deepEqual(inits[0].startupProbe.exec.command.slice(0, 3), [
      "/kubetask",
      "git-proxy",
      "probe",
    ]);
    const mounting = (volume: (v: Record<string, unknown>) => unknown) => {
      const names = pod.spec.volumes.filter(volume).map((v: { name: string }) => v.name);
      return [...inits, ...pod.spec.containers]
        .filter((c) => (c.volumeMounts ?? []).some((m: { name: string }) => names.includes(m.name)))
        .map((c) => c.name);
    };
    const projected = (v: Record<string, unknown>) => JSON.stringify(v.projected ?? "");
    assert.deepEqual(mounting((v) => projected(v).includes('"app-git"')), ["git-proxy"]);
    // The Context's own Secret serves its repository: the Agent's token is in no container at all.
    assert.deepEqual(mounting((v) => projected(v).includes('"git-token"')), []);
    assert.deepEqual(
      mounting((v) => (v.secret as { secretName?: string })?.secretName === "ops"),
      ["git-clone-1"],
    );
    const agentEnv = pod.spec.containers[0].env.map((e: { name: string }) => e.name);
    assert.ok(!agentEnv.includes("GIT_TOKEN"), agentEnv.join(" "));
    assert.ok(agentEnv.includes("GIT_CONFIG_KEY_0") && agentEnv.includes("API_KEY"));
    const events = await eventually(
      "the Task says where its Git token went",
      async () => (await h.eventsFor("fix")).find((e) => e.startsWith("Normal GitTokenProxied")),
      30_000,
    );
    assert.match(events, /GIT_TOKEN credential goes to the Git proxy sidecar/);

    // attack: credentials (or a query) in a repository URL never reach a pod.
    for (
      const repository of [
        "https://user:token@git.example.test/org/app.git",
        "https://git.example.test/org/app.git?upload-pack=x",
      ]
    ) {
      const refused = await h.context("hostile", { type: "Git", git: { repository } })
        .then(() => "created", (err) => String(err));
      assert.match(refused, /git\.repository must be an https:\/\/ URL without user/, repository);
    }
  } finally {
    await h.cleanup();
  }
});
