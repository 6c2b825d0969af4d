// The command line's pure parts: flags, the Task it would create, how a Task
// is summed up in a line.
import assert from "assert";
import { parseCommand, UsageError } from "../../../cli/args.ts";
import { parseContextFlag, taskSpecFrom } from "../../../cli/run.ts";
import { duration, egressLines, phaseLine, shortResult } from "../../../cli/tasks.ts";

const RUN_OPTIONS = {
  agent: { type: "string" as const },
  context: { type: "string" as const, multiple: true },
  file: { type: "string" as const },
  timeout: { type: "string" as const },
  name: { type: "string" as const },
  detach: { type: "boolean" as const },
};

Deno.test("cli: --context is NAME[:PATH] or NS/NAME[:PATH]", () => {
  assert.deepEqual(parseContextFlag("guide"), { name: "guide" });
  assert.deepEqual(parseContextFlag("guide:/workspace/g.md"), {
    name: "guide",
    mountPath: "/workspace/g.md",
  });
  assert.deepEqual(parseContextFlag("platform/standards"), {
    name: "standards",
    namespace: "platform",
  });
  for (const bad of ["", "a/b/c", "/x", "a/"]) {
    assert.throws(() => parseContextFlag(bad), UsageError, bad);
  }
});

Deno.test("cli: run builds the Task spec from its flags", async () => {
  const parsed = parseCommand(
    [
      "Fix it",
      "--agent",
      "claude",
      "--context",
      "guide",
      "--context",
      "p/std:/w/s",
      "--timeout",
      "30m",
      "-n",
      "team",
    ],
    RUN_OPTIONS,
  );
  assert.equal(parsed.connection.namespace, "team");
  assert.equal(parsed.connection.context, undefined, "--context is a Task Context in run");
  assert.deepEqual(await taskSpecFrom(parsed), {
    description: "Fix it",
    agentRef: "claude",
    contexts: [{ name: "guide" }, { name: "std", namespace: "p", mountPath: "/w/s" }],
    timeout: "30m",
  });
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, "From a file\n");
  assert.equal(
    (await taskSpecFrom(parseCommand(["--file", file], RUN_OPTIONS))).description,
    "From a file\n",
  );
});

Deno.test("cli: bad usage is a UsageError that says what to do", async () => {
  await assert.rejects(taskSpecFrom(parseCommand([], RUN_OPTIONS)), /needs a description/);
  await assert.rejects(
    taskSpecFrom(parseCommand(["a", "b"], RUN_OPTIONS)),
    /unexpected arguments: b \(quote the description\)/,
  );
  assert.throws(() => parseCommand(["--colour"], RUN_OPTIONS), UsageError);
  // Elsewhere --context is kubectl's; --kube-context works everywhere.
  assert.equal(parseCommand(["--context", "prod"], {}).connection.context, "prod");
  assert.equal(parseCommand(["--kube-context", "prod"], RUN_OPTIONS).connection.context, "prod");
});

Deno.test("cli: a phase line says why a Task waits, and how it ended", () => {
  const ready = (status: string, reason: string, message: string) => ({
    type: "Ready",
    status,
    reason,
    message,
  });
  assert.equal(
    phaseLine({
      status: { phase: "Queued", conditions: [ready("False", "AgentAtCapacity", "full")] },
    }),
    "Queued (AgentAtCapacity): full",
  );
  assert.equal(
    phaseLine({ status: { phase: "Running", conditions: [ready("True", "JobCreated", "ok")] } }),
    "Running",
  );
  assert.equal(
    phaseLine({
      status: {
        phase: "Failed",
        conditions: [{
          type: "Succeeded",
          status: "False",
          reason: "Timeout",
          message: "too long",
        }],
      },
    }),
    "Failed (Timeout): too long",
  );
  assert.equal(phaseLine({}), "Pending");
});

Deno.test("cli: durations and short results", () => {
  assert.equal(duration("2030-01-01T00:00:00Z", "2030-01-01T00:03:12Z"), "3m12s");
  assert.equal(duration("2030-01-01T00:00:00Z", "2030-01-01T02:05:00Z"), "2h5m");
  assert.equal(duration(undefined), "");
  assert.equal(
    shortResult({ status: { outputs: { branch: "b", pr: "https://x/1" }, summary: "s" } }),
    "https://x/1",
  );
  assert.equal(shortResult({ status: { summary: "Done.\nMore." } }), "Done.");
  assert.equal(shortResult({ status: { summary: "x".repeat(100) } }, 10).length, 10);
});

Deno.test("cli: describe says which egress policy a Task's pod ran under", () => {
  assert.deepEqual(egressLines(undefined), []);
  assert.deepEqual(egressLines({ mode: "Unrestricted" }), ["Egress:      Unrestricted"]);
  assert.deepEqual(
    egressLines({
      mode: "Restricted",
      networkPolicy: "kubetask-egress-coder",
      git: {
        networkPolicy: "kubetask-git-fix",
        allowed: ["git.example.com:443 -> 203.0.113.7/32"],
        message: "resolved at 2026-11-30T18:00:00Z",
      },
    }),
    [
      "Egress:      Restricted (NetworkPolicy kubetask-egress-coder)",
      "  Git hosts: NetworkPolicy kubetask-git-fix",
      "    git.example.com:443 -> 203.0.113.7/32",
      "    resolved at 2026-11-30T18:00:00Z",
    ],
  );
});
