// An Agent cannot lower its pods below Pod Security "baseline" (replayed:
// privileged, SYS_ADMIN, Unconfined seccomp) unless the operator was started
// with --allow-privileged-agents.
import assert from "assert";
import { AGENT_POLICY_FILES } from "../../../api/crdgen/render.ts";
import { DEFAULT_JOB_SETTINGS } from "../../../controllers/task/job.ts";
import { eventually, kubectl } from "../env.ts";
import { repoRoot } from "../../../localcluster/paths.ts";
import { condition, TaskHarness } from "./harness.ts";

// What it takes for the apiserver to accept a privileged container at all:
// allowPrivilegeEscalation true over the hardened default.
const ESCALATING = {
  securityContext: {
    privileged: true,
    allowPrivilegeEscalation: true,
    capabilities: { add: ["SYS_ADMIN"] },
    seccompProfile: { type: "Unconfined" },
  },
};

Deno.test("baseline: a privileged Agent's Task is refused with a condition, no Job", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", ESCALATING);
    await h.task("escalate");
    const task = await h.waitForPhase("escalate", "Failed");
    const succeeded = condition(task, "Succeeded");
    console.log(`escalate: ${succeeded.reason}: ${succeeded.message}`);
    assert.equal(succeeded.reason, "PrivilegedAgent");
    assert.match(succeeded.message, /spec.securityContext.privileged: true/);
    assert.match(succeeded.message, /spec.securityContext.capabilities.add\[0\]: "SYS_ADMIN"/);
    assert.match(succeeded.message, /spec.securityContext.seccompProfile.type: "Unconfined"/);
    assert.equal(await h.get("job", "escalate"), undefined, "no Job");
    const events = await h.eventsFor("escalate");
    assert.ok(events.some((e) => e.startsWith("Warning PrivilegedAgent")), events.join("\n"));
  } finally {
    await h.cleanup();
  }
});

Deno.test("baseline: with --allow-privileged-agents the same Agent runs", async () => {
  const h = await TaskHarness.start({
    settings: () => ({ ...DEFAULT_JOB_SETTINGS, allowPrivilegedAgents: true }),
  });
  try {
    await h.agent("default", ESCALATING);
    await h.task("allowed");
    await h.waitForPhase("allowed", "Completed");
    const job = await h.get("job", "allowed");
    assert.equal(job.spec.template.spec.containers[0].securityContext.privileged, true);
  } finally {
    await h.cleanup();
  }
});

Deno.test("baseline: the installers' admission policy refuses the privileged Agent at apply time", async () => {
  const policy = `${repoRoot}/${AGENT_POLICY_FILES.kustomize}`;
  const h = await TaskHarness.start();
  try {
    await kubectl(["apply", "-f", policy]);
    // A policy takes effect a moment after it is created.
    const refused = await eventually("the policy refuses the Agent", async () => {
      const out = await h.agent("privileged", ESCALATING).then(() => "created", (e) => String(e));
      if (out === "created") await kubectl(["delete", "agent", "privileged", "-n", h.ns]);
      return out.includes("denied request") ? out : undefined;
    });
    console.log(`policy: ${refused.trim().split("\n").at(-1)?.replace(/ \(Pod Security.*/, "")}`);
    assert.match(
      refused,
      /spec.securityContext.privileged may not be true \(Pod Security baseline\)/,
    );
    // Within baseline: accepted.
    await h.agent("restricted", {
      securityContext: { runAsNonRoot: true, capabilities: { add: ["NET_BIND_SERVICE"] } },
    });
  } finally {
    await kubectl(["delete", "--ignore-not-found", "-f", policy]);
    await h.cleanup();
  }
});
