// What an agent reports back, read from its container's termination message
// (Kubernetes keeps at most 4 KiB of it, and with FallbackToLogsOnError uses
// the end of the log when a failing agent wrote none).
//
// The contract for agent images: write to /dev/termination-log. Lines of the
// form `::kubetask-output NAME=VALUE::` become status.outputs.NAME; the other
// lines, trimmed, are status.summary. The exit code is the container's. One
// line `::kubetask-usage inputTokens=N outputTokens=N costUSD=D model=NAME::`
// (any of the four, in any order) becomes status.usage; the last one wins.
import type { TaskUsage } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

export const AGENT_CONTAINER = "agent";
export const MAX_OUTPUTS = 16;
export const MAX_OUTPUT_VALUE = 1024;
export const MAX_SUMMARY = 2048;

const OUTPUT_LINE = /^::kubetask-output ([A-Za-z][A-Za-z0-9_.-]{0,62})=(.*)::$/;
const OUTPUT_PREFIX = "::kubetask-output ";
/** The name part of an output line whose name the pattern refused. */
function invalidOutputName(line: string): string {
  const body = line.slice(OUTPUT_PREFIX.length);
  const eq = body.indexOf("=");
  return eq >= 0 ? body.slice(0, eq) : body;
}
const USAGE_LINE = /^::kubetask-usage((?: [^\s=]+=\S+)+)::$/;
/** What each usage field accepts; a value that does not match is left out. */
const USAGE_FIELDS = {
  inputTokens: /^[0-9]{1,15}$/,
  outputTokens: /^[0-9]{1,15}$/,
  costUSD: /^[0-9]{1,9}(\.[0-9]{1,6})?$/,
  model: /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/,
} as const;

export interface AgentResult {
  exitCode?: number;
  summary?: string;
  outputs?: Record<string, string>;
  usage?: TaskUsage;
  /**
   * What the bounds above left out or cut, each said in a few words (not a
   * status field: the Task's ResultRecorded condition names them).
   */
  dropped?: string[];
}

/** Writing `parts` in the few words a condition message has room for. */
function listed(parts: string[], max = 5): string {
  const shown = parts.slice(0, max).map((p) => JSON.stringify(p.slice(0, 64))).join(", ");
  return parts.length > max ? `${shown} and ${parts.length - max} more` : shown;
}

/**
 * The fields of a usage line, each checked; undefined when none is valid. The
 * fields left out (unknown, or a value out of range) are added to `dropped`.
 */
export function parseUsageLine(line: string, dropped: string[] = []): TaskUsage | undefined {
  const m = USAGE_LINE.exec(line.trimEnd());
  if (!m) return undefined;
  const usage: TaskUsage = {};
  for (const pair of m[1].trim().split(" ")) {
    const eq = pair.indexOf("=");
    const [key, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
    if (!Object.hasOwn(USAGE_FIELDS, key)) {
      dropped.push(`usage field ${JSON.stringify(key.slice(0, 64))} (unknown)`);
      continue;
    }
    const field = key as keyof typeof USAGE_FIELDS;
    if (!USAGE_FIELDS[field].test(value)) {
      dropped.push(`usage ${field}=${JSON.stringify(value.slice(0, 64))} (out of range)`);
      continue;
    }
    if (field === "inputTokens" || field === "outputTokens") usage[field] = Number(value);
    else usage[field] = value;
  }
  return Object.keys(usage).length ? usage : undefined;
}

/**
 * The status fields that carry what the agent wrote, and nothing else: the one
 * list of untrusted status parts (a status the apiserver refuses is written
 * again without them; see runtime/apply.ts).
 */
export const AGENT_SUPPLIED_FIELDS: readonly string[] = ["summary", "outputs", "usage"];

/** Splits a termination message into outputs and the summary, within the bounds above. */
export function parseTerminationMessage(message: string): Omit<AgentResult, "exitCode"> {
  // A Map, not an object: names such as "constructor" or "toString" are the
  // agent's to choose, and an object would count them as already present.
  const outputs = new Map<string, string>();
  const rest: string[] = [];
  let usage: TaskUsage | undefined;
  const dropped: string[] = [];
  const beyond: string[] = [];
  const invalidNames: string[] = [];
  const cut: string[] = [];
  for (const line of message.split("\n")) {
    if (USAGE_LINE.test(line.trimEnd())) {
      usage = parseUsageLine(line, dropped) ?? usage;
      continue;
    }
    const m = OUTPUT_LINE.exec(line.trimEnd());
    if (m && (outputs.has(m[1]) || outputs.size < MAX_OUTPUTS)) {
      if (m[2].length > MAX_OUTPUT_VALUE) cut.push(m[1]);
      outputs.set(m[1], m[2].slice(0, MAX_OUTPUT_VALUE));
    } else {
      if (m) beyond.push(m[1]);
      else if (line.startsWith(OUTPUT_PREFIX)) invalidNames.push(invalidOutputName(line));
      rest.push(line);
    }
  }
  const text = rest.join("\n").trim();
  const summary = text.slice(0, MAX_SUMMARY);
  if (beyond.length) {
    dropped.push(
      `${beyond.length} output(s) beyond the limit of ${MAX_OUTPUTS} (${listed(beyond)}, ` +
        "kept in the summary as text)",
    );
  }
  if (invalidNames.length) {
    dropped.push(
      `${invalidNames.length} output(s) with an invalid name (${listed(invalidNames)}, kept in ` +
        "the summary as text)",
    );
  }
  if (cut.length) {
    dropped.push(`output value(s) cut to ${MAX_OUTPUT_VALUE} characters (${listed(cut)})`);
  }
  if (text.length > summary.length) {
    dropped.push(`the summary cut from ${text.length} to ${MAX_SUMMARY} characters`);
  }
  return {
    ...(summary ? { summary } : {}),
    ...(outputs.size ? { outputs: Object.fromEntries(outputs) } : {}),
    ...(usage ? { usage } : {}),
    ...(dropped.length ? { dropped } : {}),
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
