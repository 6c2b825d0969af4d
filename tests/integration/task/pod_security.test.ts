// Agent pods meet Pod Security "restricted" once the Agent names a non-root
// user (the rest is the operator's hardened default); a pod the cluster
// refuses shows on the Task with the cluster's own message.
import assert from "assert";
import { eventually, kubectl } from "../env.ts";
import { condition, TaskHarness } from "./harness.ts";

Deno.test("pod security: a refused pod shows on the Task; a non-root Agent passes restricted", async () => {
  const h = await TaskHarness.start();
  try {
    await kubectl(["label", "namespace", h.ns, "pod-security.kubernetes.io/enforce=restricted"]);
    await h.agent("default");
    await h.task("as-root");
    const refused = await eventually("Task shows FailedCreate", async () => {
      const task = await h.get("task", "as-root");
      return condition(task, "Ready")?.reason === "FailedCreate" ? task : undefined;
    }, 90_000);
    assert.equal(refused.status.phase, "Pending");
    const message: string = condition(refused, "Ready").message;
    assert.match(message, /^Job "as-root" cannot create its pod: .*violates PodSecurity/);
    // The only gap the operator leaves to the Agent is the user.
    assert.match(message, /runAsNonRoot/);
    assert.doesNotMatch(message, /allowPrivilegeEscalation|capabilities|seccompProfile/);
    assert.ok((await h.eventsFor("as-root")).some((e) => e.startsWith("Warning FailedCreate")));

    await h.agent("non-root", {
      podSpec: { securityContext: { runAsNonRoot: true, runAsUser: 65532 } },
    });
    await h.task("as-user", { agentRef: "non-root" });
    const pod = await eventually("the pod of as-user exists", async () => {
      const pods = await h.list("pods");
      return pods.find((p) => p.metadata.labels?.["job-name"] === "as-user");
    }, 60_000);
    assert.equal(pod.spec.containers[0].securityContext.allowPrivilegeEscalation, false);
    assert.notEqual(condition(await h.get("task", "as-user"), "Ready")?.reason, "FailedCreate");
  } finally {
    await h.cleanup();
  }
});
