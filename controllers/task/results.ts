// What an agent reports back, read from its container's termination message
// (Kubernetes keeps at most 4 KiB of it, and with FallbackToLogsOnError uses
// the end of the log when a failing agent wrote none).
//
// The contract for agent images: write to /dev/termination-log. Lines of the
// form `::kubetask-output NAME=VALUE::` become status.outputs.NAME; the other
// lines, trimmed, are status.summary. The exit code is the container's.
import type { KubeObject } from "../runtime/types.ts";

export const AGENT_CONTAINER = "agent";
export const MAX_OUTPUTS = 16;
export const MAX_OUTPUT_VALUE = 1024;
export const MAX_SUMMARY = 2048;

const OUTPUT_LINE = /^::kubetask-output ([A-Za-z][A-Za-z0-9_.-]{0,62})=(.*)::$/;

export interface AgentResult {
  exitCode?: number;
  summary?: string;
  outputs?: Record<string, string>;
}

/**
 * The status fields that carry what the agent wrote, and nothing else: the one
 * list of untrusted status parts (a status the apiserver refuses is written
 * again without them; see runtime/apply.ts).
 */
export const AGENT_SUPPLIED_FIELDS: readonly string[] = ["summary", "outputs"];

/** Splits a termination message into outputs and the summary, within the bounds above. */
export function parseTerminationMessage(message: string): Omit<AgentResult, "exitCode"> {
  // A Map, not an object: names such as "constructor" or "toString" are the
  // agent's to choose, and an object would count them as already present.
  const outputs = new Map<string, string>();
  const rest: string[] = [];
  for (const line of message.split("\n")) {
    const m = OUTPUT_LINE.exec(line.trimEnd());
    if (m && (outputs.has(m[1]) || outputs.size < MAX_OUTPUTS)) {
      outputs.set(m[1], m[2].slice(0, MAX_OUTPUT_VALUE));
    } else {
      rest.push(line);
    }
  }
  const summary = rest.join("\n").trim().slice(0, MAX_SUMMARY);
  return {
    ...(summary ? { summary } : {}),
    ...(outputs.size ? { outputs: Object.fromEntries(outputs) } : {}),
  };
}

/** The agent's result from the Job's pods (the newest one that finished), if any. */
export function agentResult(pods: KubeObject[]): AgentResult | undefined {
  const finished = pods
    .map((pod) => ({
      pod,
      state: (pod.status?.containerStatuses ?? [])
        .find((c: KubeObject) => c.name === AGENT_CONTAINER)?.state?.terminated,
    }))
    .filter((p) => p.state)
    .sort((a, b) =>
      String(a.state.finishedAt ?? "").localeCompare(String(b.state.finishedAt ?? ""))
    );
  const last = finished.at(-1)?.state;
  if (!last) return undefined;
  return {
    ...(typeof last.exitCode === "number" ? { exitCode: last.exitCode } : {}),
    ...parseTerminationMessage(String(last.message ?? "")),
  };
}
