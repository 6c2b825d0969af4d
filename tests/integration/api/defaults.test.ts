// Valid objects of every kind are stored, and read back with the defaults the
// controllers rely on filled in by the apiserver.
import assert from "assert";
import { kubectl, testNamespace } from "../env.ts";
import { create, installCrds } from "./crds.ts";

// deno-lint-ignore no-explicit-any
async function createAndGet(ns: string, yaml: string): Promise<any> {
  const created = await create(ns, yaml);
  assert.ok(created.ok, created.ok ? "" : created.error);
  const { kind, metadata } = created.object as { kind: string; metadata: { name: string } };
  return JSON.parse(
    await kubectl([
      "get",
      "-n",
      ns,
      "-o",
      "json",
      `${kind.toLowerCase()}.kubetask.io/${metadata.name}`,
    ]),
  );
}

Deno.test("the apiserver fills in the documented defaults for every kind", async (t) => {
  await installCrds();
  const ns = await testNamespace("api-defaults");
  try {
    await t.step("Task: agentRef left unset, humanInTheLoop.keepAliveSeconds 3600", async () => {
      const task = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: Task
metadata: {name: minimal}
spec:
  description: Say hello.
  humanInTheLoop: {enabled: true}
  contexts: [{name: guide, mountPath: ""}]
`,
      );
      // Not defaulted: "no Agent named" (built-in fallback) differs from "named default".
      assert.equal(task.spec.agentRef, undefined);
      assert.equal(task.spec.humanInTheLoop.keepAliveSeconds, 3600);
      assert.equal(task.spec.description, "Say hello.");
      assert.equal(
        task.spec.contexts[0].mountPath,
        "",
        "an empty mountPath means: append to task.md",
      );
    });

    await t.step("CronTask: Forbid, not suspended, history limits 3 and 1", async () => {
      const cron = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: CronTask
metadata: {name: nightly}
spec:
  schedule: "0 2 * * *"
  taskTemplate:
    spec: {description: Nightly run.}
`,
      );
      assert.equal(cron.spec.concurrencyPolicy, "Forbid");
      assert.equal(cron.spec.suspend, false);
      assert.equal(cron.spec.successfulTasksHistoryLimit, 3);
      assert.equal(cron.spec.failedTasksHistoryLimit, 1);
      assert.equal(cron.spec.taskTemplate.spec.agentRef, undefined);
    });

    await t.step("Agent: workspaceDir /workspace, credential fileMode 0600", async () => {
      const agent = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: Agent
metadata: {name: default}
spec:
  serviceAccountName: kubetask-agent
  credentials:
    - name: key
      secretRef: {name: keys, key: id}
      mountPath: /home/agent/key
`,
      );
      assert.equal(agent.spec.workspaceDir, "/workspace");
      assert.equal(agent.spec.credentials[0].fileMode, 0o600);
    });

    await t.step("Context: git ref HEAD, depth 1", async () => {
      const ctx = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: Context
metadata: {name: repo}
spec:
  type: Git
  git: {repository: "https://example.invalid/org/repo.git"}
`,
      );
      assert.equal(ctx.spec.git.ref, "HEAD");
      assert.equal(ctx.spec.git.depth, 1);
    });

    await t.step("Context: inline and ConfigMap sources are stored as given", async () => {
      const inline = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: Context
metadata: {name: guide}
spec:
  type: Inline
  inline: {content: "Be brief."}
`,
      );
      assert.equal(inline.spec.inline.content, "Be brief.");
      const fromConfigMap = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: Context
metadata: {name: configs}
spec:
  type: ConfigMap
  configMap: {name: project-configs}
`,
      );
      assert.equal(fromConfigMap.spec.configMap.name, "project-configs");
    });

    await t.step("KubeTaskConfig: ttlSecondsAfterFinished 604800", async () => {
      const config = await createAndGet(
        ns.name,
        `
apiVersion: kubetask.io/v1alpha1
kind: KubeTaskConfig
metadata: {name: default}
spec:
  taskLifecycle: {}
`,
      );
      assert.equal(config.spec.taskLifecycle.ttlSecondsAfterFinished, 604800);
    });
  } finally {
    await ns.cleanup();
  }
});
