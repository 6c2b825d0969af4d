// Bad input never leaves a Task stuck without a status: each case is sent to
// the real apiserver, and the Task ends Failed with a condition naming the
// culprit (and creates no Job where the input is refused before creating).
import assert from "assert";
import { kubectl, testNamespace } from "../env.ts";
import { condition, TaskHarness } from "./harness.ts";

async function failedWith(h: TaskHarness, name: string, reason: string, message: RegExp) {
  const task = await h.waitForPhase(name, "Failed");
  const succeeded = condition(task, "Succeeded");
  assert.equal(succeeded?.reason, reason);
  assert.match(succeeded?.message ?? "", message);
  assert.ok(task.status.completionTime, "a failed Task has a completionTime (TTL applies)");
  const events = await h.eventsFor(name);
  assert.ok(events.some((e) => e.startsWith(`Warning ${reason}`)), `a Warning ${reason} Event`);
  return task;
}

Deno.test("bad input: two contexts at one mountPath fail the Task, no Job is created", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default");
    for (const name of ["a", "b"]) {
      await h.context(name, { type: "Inline", inline: { content: name } });
    }
    await h.task("clash", {
      contexts: [
        { name: "a", mountPath: "/workspace/notes.md" },
        { name: "b", mountPath: "/workspace/notes.md" },
      ],
    });
    await failedWith(h, "clash", "MountPathConflict", /are both mounted at \/workspace\/notes\.md/);
    assert.equal((await h.list("jobs")).length, 0);
  } finally {
    await h.cleanup();
  }
});

Deno.test("bad input: task.md over what a ConfigMap holds fails the Task as ContextTooLarge", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default");
    // Each Context is within its own 256 KiB bound; five of them are not.
    const contexts = [];
    for (let i = 0; i < 5; i++) {
      await h.context(`big-${i}`, { type: "Inline", inline: { content: "x".repeat(250_000) } });
      contexts.push({ name: `big-${i}` });
    }
    await h.task("huge", { contexts });
    await failedWith(h, "huge", "ContextTooLarge", /come to \d+ bytes/);
    assert.equal((await h.list("jobs")).length, 0);
  } finally {
    await h.cleanup();
  }
});

Deno.test("bad input: a Job the apiserver refuses (422) fails the Task with the apiserver's message", async () => {
  const h = await TaskHarness.start();
  try {
    // Pod labels are free-form in the Agent; this value is not a valid label value.
    await h.agent("default", { podSpec: { labels: { team: "not a label value!" } } });
    await h.task("refused");
    await failedWith(h, "refused", "JobRejected", /spec\.template\.labels|Invalid value/);
  } finally {
    await h.cleanup();
  }
});

Deno.test("bad input: a Job over the namespace's quota (403) fails the Task, not a retry loop", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default");
    await kubectl(["create", "quota", "no-jobs", "-n", h.ns, "--hard=count/jobs.batch=0"]);
    await h.task("over-quota");
    await failedWith(h, "over-quota", "JobRejected", /exceeded quota/);
  } finally {
    await h.cleanup();
  }
});

Deno.test("attack: a Git Context with a secretRef in another namespace never binds to this namespace's Secret", async () => {
  const other = await testNamespace("other");
  const h = await TaskHarness.start({ alsoWatch: [other.name] });
  try {
    await h.agent("default");
    // A Secret of that name exists in the Task's namespace: it must not be used.
    await kubectl([
      "create",
      "secret",
      "generic",
      "creds",
      "-n",
      h.ns,
      "--from-literal=password=x",
    ]);
    await kubectl(
      ["apply", "-n", other.name, "-f", "-"],
      JSON.stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Context",
        metadata: { name: "repo" },
        spec: {
          type: "Git",
          git: { repository: "https://git.example.test/r.git", secretRef: { name: "creds" } },
        },
      }),
    );
    // Even shared on purpose, the Context's secretRef cannot travel.
    await kubectl(
      ["apply", "-n", other.name, "-f", "-"],
      JSON.stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "ContextGrant",
        metadata: { name: "share" },
        spec: { namespaces: [h.ns] },
      }),
    );
    await h.task("borrow", {
      contexts: [{ name: "repo", namespace: other.name, mountPath: "/workspace/r" }],
    });
    await failedWith(h, "borrow", "InvalidContext", /Secrets are never used across namespaces/);
    assert.equal((await h.list("jobs")).length, 0);
  } finally {
    await h.cleanup();
    await other.cleanup();
  }
});

Deno.test("attack: an Agent that runs as the operator's own ServiceAccount is refused", async () => {
  const h = await TaskHarness.start({
    settings: (ns) => ({ gitImage: "git.test/git:1", operatorServiceAccount: `${ns}/operator` }),
  });
  try {
    await h.agent("default", { serviceAccountName: "operator" });
    await h.task("escalate");
    await failedWith(h, "escalate", "InvalidAgent", /the operator's own ServiceAccount/);
    assert.equal((await h.list("jobs")).length, 0);
  } finally {
    await h.cleanup();
  }
});
