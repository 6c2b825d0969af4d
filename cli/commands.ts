// `logs`, `stop`, `list` and `describe`: reading and stopping Tasks.
import { STOP_ANNOTATION } from "../api/v1alpha1/index.ts";
import { TaskResource } from "../controllers/kinds.ts";
import type { KubeObject } from "../controllers/runtime/types.ts";
import { isFinishedPhase } from "../controllers/status.ts";
import { parseCommand, UsageError } from "./args.ts";
import type { Output } from "./output.ts";
import { openSession, type Session } from "./session.ts";
import {
  agentPod,
  agentStarted,
  CommandError,
  condition,
  duration,
  egressLines,
  getTask,
  kueueQueueLine,
  kueueQueues,
  phaseLine,
  shortResult,
  streamLog,
  taskEvents,
  taskMd,
  tokensText,
  usageText,
} from "./tasks.ts";

/** Runs `body` with a session, for a command taking exactly one Task name. */
async function withTask(
  args: string[],
  options: Parameters<typeof parseCommand>[1],
  usage: string,
  out: Output,
  body: (s: Session, name: string, values: Record<string, unknown>) => Promise<number>,
): Promise<number> {
  const parsed = parseCommand(args, options);
  if (parsed.help) return out.usage(usage);
  if (parsed.positionals.length !== 1) throw new UsageError(`expected one Task name\n${usage}`);
  const s = await openSession(parsed.connection);
  try {
    return await body(s, parsed.positionals[0], parsed.values);
  } finally {
    await s.close();
  }
}

export const LOGS_USAGE = "usage: kubetask logs TASK [-f] [-n NS]";

export function logsCommand(args: string[], out: Output): Promise<number> {
  return withTask(
    args,
    { follow: { type: "boolean", short: "f" } },
    LOGS_USAGE,
    out,
    async (s, name, v) => {
      const follow = v.follow === true;
      for (;;) {
        const task = await getTask(s, name);
        const pod = await agentPod(s, task);
        if (agentStarted(pod)) {
          await streamLog(s, pod!, follow, out);
          return 0;
        }
        if (!follow || isFinishedPhase(task.status?.phase)) {
          throw new CommandError(`Task "${name}" has no agent log yet: ${phaseLine(task)}`);
        }
        await new Promise((r) => setTimeout(r, 500)); // -f waits for the agent to start
      }
    },
  );
}

export const STOP_USAGE = "usage: kubetask stop TASK [-n NS]";

export function stopCommand(args: string[], out: Output): Promise<number> {
  return withTask(args, {}, STOP_USAGE, out, async (s, name) => {
    const task = await getTask(s, name);
    if (isFinishedPhase(task.status?.phase)) {
      out.info(`task/${name} already finished: ${phaseLine(task)}`);
      return 0;
    }
    await s.client.patch(TaskResource, s.namespace, name, {
      metadata: { annotations: { [STOP_ANNOTATION]: "true" } },
    });
    out.line(`task/${name} stop requested`);
    return 0;
  });
}

export const LIST_USAGE = "usage: kubetask list [-n NS | -A]";

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("   ").trimEnd()).join("\n");
}

export async function listCommand(args: string[], out: Output): Promise<number> {
  const parsed = parseCommand(args, {});
  if (parsed.help) return out.usage(LIST_USAGE);
  if (parsed.positionals.length) throw new UsageError(`list takes no arguments\n${LIST_USAGE}`);
  const s = await openSession(parsed.connection);
  try {
    const all = parsed.connection.allNamespaces;
    const tasks = (await s.client.list(TaskResource, all ? "" : s.namespace)).sort((a, b) =>
      String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp))
    );
    if (tasks.length === 0) {
      out.info(`no Tasks in ${all ? "any namespace" : `namespace ${s.namespace}`}`);
      return 0;
    }
    // The Kueue LocalQueue of each Task whose Job Kueue manages (one list, by label).
    const queues = await kueueQueues(s, all ? "" : s.namespace);
    const head = [
      ...(all ? ["NAMESPACE"] : []),
      "NAME",
      "PHASE",
      "AGENT",
      ...(queues.size ? ["QUEUE"] : []),
      "AGE",
      "DURATION",
      "TOKENS",
      "COST",
      "RESULT",
    ];
    const rows = tasks.map((t: KubeObject) => [
      ...(all ? [t.metadata?.namespace ?? ""] : []),
      t.metadata?.name ?? "",
      t.status?.phase ?? "Pending",
      t.spec?.agentRef ?? "",
      ...(queues.size
        ? [queues.get(`${t.metadata?.namespace}/${t.status?.jobName ?? ""}`) ?? ""]
        : []),
      duration(t.metadata?.creationTimestamp),
      t.status?.startTime ? duration(t.status.startTime, t.status.completionTime) : "",
      tokensText(t.status?.usage),
      t.status?.usage?.costUSD ? `$${t.status.usage.costUSD}` : "",
      shortResult(t, 60, (text) => out.shownOnStdout(text)),
    ]);
    out.line(table([head, ...rows]));
    return 0;
  } finally {
    await s.close();
  }
}

export const DESCRIBE_USAGE = "usage: kubetask describe TASK [-n NS]";

export function describeCommand(args: string[], out: Output): Promise<number> {
  return withTask(args, {}, DESCRIBE_USAGE, out, async (s, name) => {
    const t = await getTask(s, name);
    const st = t.status ?? {};
    const queue = await kueueQueueLine(s, t);
    const lines = [
      `Name:        ${name}`,
      `Namespace:   ${s.namespace}`,
      `Agent:       ${t.spec?.agentRef ?? "(default)"}`,
      `Phase:       ${phaseLine(t)}`,
      `Job:         ${st.jobName ?? ""}`,
      ...(queue ? [`Queue:       ${queue}`] : []),
      `Started:     ${st.startTime ?? ""}`,
      `Finished:    ${st.completionTime ?? ""}`,
      ...(st.exitCode !== undefined ? [`Exit code:   ${st.exitCode}`] : []),
      "Conditions:",
      ...["Ready", "Succeeded"].map((type) => {
        const c = condition(t, type);
        return c ? `  ${type}=${c.status} ${c.reason}: ${c.message ?? ""}` : `  ${type}: -`;
      }),
    ];
    if (st.summary) lines.push("Summary:", ...String(st.summary).split("\n").map((l) => `  ${l}`));
    const outputs = Object.entries(st.outputs ?? {});
    if (outputs.length) lines.push("Outputs:", ...outputs.map(([k, v]) => `  ${k}=${v}`));
    if (st.usage) lines.push(`Usage:       ${usageText(st.usage)}`);
    lines.push(...egressLines(st.egress));
    const events = await taskEvents(s, name);
    lines.push("Events:", ...events.map((e) => `  ${e.type} ${e.reason}: ${e.message}`));
    const md = await taskMd(s, name);
    lines.push(
      "task.md:",
      ...(md === undefined ? ["  (not created yet)"] : md.split("\n").map((l) => `  ${l}`)),
    );
    out.line(lines.join("\n"));
    return 0;
  });
}
