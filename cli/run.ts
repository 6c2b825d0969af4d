// `kubetask run "description"`: creates a Task, says how it waits, streams the
// agent's log, and exits 0 when the Task Completed, 1 when it Failed.
import { API_VERSION, type ContextMount } from "../api/v1alpha1/index.ts";
import { ApiError } from "../controllers/runtime/transport.ts";
import { TaskResource } from "../controllers/kinds.ts";
import type { KubeObject } from "../controllers/runtime/types.ts";
import { isFinishedPhase } from "../controllers/status.ts";
import { parseCommand, UsageError } from "./args.ts";
import type { Output } from "./output.ts";
import { openSession, type Session } from "./session.ts";
import { agentPod, agentStarted, getTask, phaseLine, streamLog, usageText } from "./tasks.ts";

export const RUN_USAGE = `usage: kubetask run "DESCRIPTION" [flags]
  --agent NAME              the Agent (default: "default", else the built-in one)
  --context NAME[:PATH]     a Context of the namespace, mounted at PATH or appended to task.md
                            (repeatable; NS/NAME[:PATH] for a shared one)
  --file PATH               read the description from a file ("-": standard input)
  --timeout DURATION        e.g. 30m or 2h
  --name NAME               the Task's name (default: generated)
  --detach                  create it, print its name and return
  -n, --namespace NS   --kubeconfig PATH   --kube-context CTX (kubectl's --context)`;

const POLL_MS = 500;

/** "docs/guide:/workspace/guide.md" → a ContextMount; "shared/guide" names another namespace. */
export function parseContextFlag(value: string): ContextMount {
  const [ref, ...rest] = value.split(":");
  const mountPath = rest.join(":") || undefined;
  const parts = ref.split("/");
  if (!ref || parts.length > 2 || parts.some((p) => !p)) {
    throw new UsageError(
      `--context ${value}: expected NAME[:MOUNTPATH] or NAMESPACE/NAME[:MOUNTPATH]`,
    );
  }
  const [namespace, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  return { name, ...(namespace ? { namespace } : {}), ...(mountPath ? { mountPath } : {}) };
}

/** The Task's spec from the arguments (checked before anything talks to the cluster). */
export async function taskSpecFrom(parsed: ReturnType<typeof parseCommand>) {
  const v = parsed.values;
  let description = parsed.positionals[0];
  if (v.file !== undefined) {
    if (description !== undefined) throw new UsageError("give the description or --file, not both");
    const file = String(v.file);
    description = file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(file).catch((err) => {
        throw new UsageError(`--file ${file}: ${(err as Error).message}`);
      });
  }
  if (!description?.trim()) throw new UsageError("run needs a description (or --file)");
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `unexpected arguments: ${parsed.positionals.slice(1).join(" ")} (quote the description)`,
    );
  }
  const contexts = ((v.context as string[] | undefined) ?? []).map(parseContextFlag);
  return {
    description,
    ...(v.agent ? { agentRef: String(v.agent) } : {}),
    ...(contexts.length ? { contexts } : {}),
    ...(v.timeout ? { timeout: String(v.timeout) } : {}),
  };
}

export async function runCommand(args: string[], out: Output): Promise<number> {
  const parsed = parseCommand(args, {
    agent: { type: "string" },
    context: { type: "string", multiple: true },
    file: { type: "string" },
    timeout: { type: "string" },
    name: { type: "string" },
    detach: { type: "boolean" },
  });
  if (parsed.help) return out.usage(RUN_USAGE);
  const spec = await taskSpecFrom(parsed);
  const s = await openSession(parsed.connection);
  try {
    const name = parsed.values.name;
    const body = {
      apiVersion: API_VERSION,
      kind: "Task",
      metadata: name
        ? { name: String(name), namespace: s.namespace }
        : { generateName: "task-", namespace: s.namespace },
      spec,
    };
    let created: KubeObject;
    try {
      created = await s.client.create(TaskResource, body as KubeObject);
    } catch (err) {
      // The apiserver's validation (CEL) names the field: that is bad usage too.
      if (err instanceof ApiError && (err.status === 422 || err.status === 400)) {
        throw new UsageError(err.detail);
      }
      throw err;
    }
    const createdName = created.metadata?.name ?? "";
    if (parsed.values.detach) {
      out.line(createdName);
      return 0;
    }
    out.info(`task/${createdName} created in namespace ${s.namespace}`);
    const interrupted = () => {
      out.info(interruptedNote(createdName, s.namespace));
      Deno.exit(130);
    };
    Deno.addSignalListener("SIGINT", interrupted);
    try {
      return await follow(s, createdName, out);
    } finally {
      Deno.removeSignalListener("SIGINT", interrupted);
    }
  } finally {
    await s.close();
  }
}

/** What Ctrl-C during `run` says: the Task is the cluster's now, and how to reach it. */
export function interruptedNote(name: string, namespace: string): string {
  return [
    `\ntask/${name} keeps running in namespace ${namespace}: Ctrl-C only stopped following it.`,
    `  follow it: kubectl kubetask logs ${name} -n ${namespace} -f`,
    `  stop it:   kubectl kubetask stop ${name} -n ${namespace}`,
  ].join("\n");
}

/** Reports phase changes and streams the log until the Task finishes. */
export async function follow(s: Session, name: string, out: Output): Promise<number> {
  let said = "";
  let streamed = false;
  for (;;) {
    const task = await getTask(s, name);
    const finished = isFinishedPhase(task.status?.phase);
    const line = phaseLine(task);
    // The final line (with the exit code) is finish()'s.
    if (!finished && line !== said) {
      out.status(`task/${name}: ${line}`, { live: true });
      said = line;
    }
    if (!streamed && task.status?.jobName) {
      const pod = await agentPod(s, task);
      // An agent that already ended (quicker than a poll) still has its whole log.
      if (agentStarted(pod)) {
        streamed = true;
        out.endLive();
        await streamLog(s, pod!, !finished, out).catch((err) =>
          out.info(`(log stream ended: ${(err as Error).message})`)
        );
        continue;
      }
    }
    if (finished) return finish(task, out);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function finish(task: KubeObject, out: Output): number {
  const status = task.status ?? {};
  const code = status.exitCode !== undefined ? ` (exit code ${status.exitCode})` : "";
  out.status(`task/${task.metadata?.name}: ${phaseLine(task)}${code}`);
  for (const [k, v] of Object.entries(status.outputs ?? {})) out.info(`output ${k}=${v}`);
  if (status.usage) out.info(`usage ${usageText(status.usage)}`);
  return status.phase === "Completed" ? 0 : 1;
}
