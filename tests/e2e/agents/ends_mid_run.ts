// A running CLI ended from outside, by a stop (the annotation) or by the
// Task's timeout: the kubelet's SIGTERM reaches the CLI through the
// entrypoint, which still reports, and the pod's log is kept.
import assert from "assert";
import { eventually, kubectl } from "../../integration/env.ts";
import { condition, type HarnessOptions } from "../../integration/task/harness.ts";
import { agentLog } from "../real_node.ts";
import type { CliCase } from "./cli_cases.ts";
import { startWorld } from "./world.ts";

/** How the run is ended, and the reason the Task then fails with. */
export type Ending = { by: "stop" } | { by: "timeout"; timeout: string };

const LONG = "echo working; sleep 600";

export async function endsMidRun(
  c: CliCase,
  ending: Ending,
  harness: HarnessOptions = {},
): Promise<void> {
  const marker = `MARK-${c.cli}-${ending.by}-${crypto.randomUUID().slice(0, 8)}`;
  const w = await startWorld(c, [{
    marker,
    turns: [{ text: "This takes a while.", shell: LONG }, { text: "done" }],
  }], harness);
  const name = ending.by === "stop" ? "halt" : "late";
  try {
    await w.agent();
    await w.task(name, marker, ending.by === "timeout" ? { timeout: ending.timeout } : {});
    await w.h.waitForPhase(name, "Running", 120_000);
    if (ending.by === "stop") {
      await eventually(
        "the CLI runs the long command",
        async () => (await agentLog(w.h, name)).includes(c.toolLine(LONG)),
        120_000,
      );
      await kubectl(["annotate", "task", name, "-n", w.h.ns, "kubetask.io/stop=true"]);
    }
    const done = await w.h.waitForPhase(name, "Failed", 180_000);
    const reason = ending.by === "stop" ? "Stopped" : "Timeout";
    assert.equal(condition(done, "Succeeded").reason, reason);
    const log = await agentLog(w.h, name);
    assert.ok(log.includes(c.toolLine(LONG)), `the log is kept, mid-run:\n${log}`);
    assert.match(log, new RegExp(`^\\[kubetask-agent\\] ${c.cli} exited with code 143$`, "m"));
    assert.match(done.status.summary ?? "", /^stopped by SIGTERM/);
  } finally {
    await w.close();
  }
}
