// Pods that never start their agent, on the real kubelet and scheduler: an
// image that does not pull (no registry is reachable here, so any remote
// name fails), a credential naming a Secret that does not exist, a request no
// node fits. Each Task is Pending with the reason that holds it (the message
// names the image, the Secret, the scheduler's words), `list`, `describe` and
// `run` say it, and it fails with that reason at its short startupTimeout.
//
// KUBETASK_E2E_CAPTURE=<file>: the CLI's list and describe output of the
// three stuck Tasks is appended there (for notes and the README).
import assert from "assert";
import { eventually } from "../integration/env.ts";
import { condition, type Json, TaskHarness } from "../integration/task/harness.ts";
import { cli, cliInBackground } from "../integration/cli/run_cli.ts";
import { onRealNode, realNodeAgent } from "./real_node.ts";

/** Short, yet long enough to see the Pending state first on a busy machine. */
const STARTUP_TIMEOUT = "30s";
const MISSING_IMAGE = "registry.kubetask.invalid/no-such-agent:1";

async function capture(title: string, text: string): Promise<void> {
  const file = Deno.env.get("KUBETASK_E2E_CAPTURE");
  if (file) await Deno.writeTextFile(file, `### ${title}\n${text}\n`, { append: true });
}

/** Waits until the Task is Pending on its pod with one of `reasons`; returns it. */
function heldWith(h: TaskHarness, name: string, reasons: string[]): Promise<Json> {
  return eventually(`Task ${name} Pending with ${reasons.join("/")}`, async () => {
    const task = await h.get("task", name);
    const ready = condition(task, "Ready");
    return task?.status?.phase === "Pending" && ready?.status === "False" &&
        reasons.includes(ready.reason)
      ? task
      : undefined;
  }, 90_000);
}

/** The CLI shows the reason: in list's RESULT column, and in describe's phase line. */
async function cliShows(h: TaskHarness, name: string, reason: string, words: RegExp) {
  const list = await cli("list", "-n", h.ns);
  assert.equal(list.code, 0, list.stderr);
  const row = list.stdout.split("\n").find((l) => l.startsWith(`${name} `)) ?? "";
  assert.match(row, new RegExp(`Pending .*${reason}: `), list.stdout);
  const describe = await cli("describe", name, "-n", h.ns);
  assert.equal(describe.code, 0, describe.stderr);
  assert.match(describe.stdout, new RegExp(`Phase: +Pending \\(${reason}\\): `), describe.stdout);
  assert.match(describe.stdout, words, describe.stdout);
  await capture(`kubectl kubetask list -n NS (${name}, ${reason})`, list.stdout);
  await capture(`kubectl kubetask describe ${name}`, describe.stdout);
}

/** It fails at the startup timeout with the same reason; its Job is suspended. */
async function failsAtStartup(h: TaskHarness, name: string, reasons: string[], words: RegExp) {
  const failed = await h.waitForPhase(name, "Failed", 120_000);
  const succeeded = condition(failed, "Succeeded");
  assert.ok(reasons.includes(succeeded?.reason), JSON.stringify(succeeded));
  assert.match(succeeded.message, words);
  assert.match(succeeded.message, /startup timeout of 30s/);
  const job = await h.get("job", failed.status.jobName);
  assert.equal(job?.spec?.suspend, true, "the Job is suspended: its held pod is ended");
  const events = await h.eventsFor(name);
  assert.ok(
    events.some((e) => reasons.some((r) => e.startsWith(`Warning ${r}:`))),
    events.join("\n"),
  );
}

Deno.test(
  onRealNode(
    "e2e stuck pod: an image that does not pull is Pending ErrImagePull/ImagePullBackOff, then Failed",
  ),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.agent(
        "default",
        realNodeAgent({ agentImage: MISSING_IMAGE, startupTimeout: STARTUP_TIMEOUT }),
      );
      await h.task("pull");
      const reasons = ["ErrImagePull", "ImagePullBackOff"];
      const held = await heldWith(h, "pull", reasons);
      const image = new RegExp(`image "${MISSING_IMAGE.replaceAll(".", "\\.")}"`);
      assert.match(condition(held, "Ready").message, image);
      await cliShows(h, "pull", condition(held, "Ready").reason, image);
      await failsAtStartup(h, "pull", reasons, image);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode(
    "e2e stuck pod: a credential naming a missing Secret is CreateContainerConfigError; run says so",
  ),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.agent(
        "default",
        realNodeAgent({
          startupTimeout: STARTUP_TIMEOUT,
          credentials: [{
            name: "llm",
            secretRef: { name: "llm-key-not-created", key: "token" },
            env: "LLM_TOKEN",
          }],
        }),
      );
      const run = cliInBackground("run", "Use the key.", "-n", h.ns, "--name", "secret");
      const reasons = ["CreateContainerConfigError"];
      const held = await heldWith(h, "secret", reasons);
      const secret = /secret "llm-key-not-created" not found/;
      assert.match(condition(held, "Ready").message, secret);
      await cliShows(h, "secret", "CreateContainerConfigError", secret);
      await failsAtStartup(h, "secret", reasons, secret);
      const done = await run.done();
      assert.equal(done.code, 1, done.stderr);
      // While it waited, run printed why; then how it ended.
      assert.match(
        done.stderr,
        /^task\/secret: Pending \(CreateContainerConfigError\): .*llm-key-not-created/m,
      );
      assert.match(done.stderr, /^task\/secret: Failed \(CreateContainerConfigError\): /m);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode(
    "e2e stuck pod: a request no node fits is Unschedulable with the scheduler's words, then Failed",
  ),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.agent(
        "default",
        realNodeAgent({
          startupTimeout: STARTUP_TIMEOUT,
          resources: { requests: { cpu: "1000" } },
        }),
      );
      await h.task("huge");
      const held = await heldWith(h, "huge", ["Unschedulable"]);
      const words = /cannot be scheduled: 0\/\d+ nodes are available: .*Insufficient cpu/;
      assert.match(condition(held, "Ready").message, words);
      await cliShows(h, "huge", "Unschedulable", /Insufficient cpu/);
      await failsAtStartup(h, "huge", ["Unschedulable"], /Insufficient cpu/);
      // The suspended Job's pod is gone: nothing waits for a node any more.
      await eventually("the held pod is deleted", async () => {
        const pods = await h.list("pods");
        return pods.length === 0 ? true : undefined;
      }, 60_000);
    } finally {
      await h.cleanup();
    }
  },
);
