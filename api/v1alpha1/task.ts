// Task: one AI agent run, executed as a Kubernetes Job.
import { z } from "zod";
import { condition, contextMount, humanInTheLoop, objectMeta } from "./common.ts";
import { budget, usdAmount } from "./budget.ts";
import {
  duration,
  MAX_CONTEXTS,
  MAX_TEXT_LENGTH,
  objectName,
  taskMountPath,
} from "./validation.ts";

/** Set to "true" on a Task to stop it (no Job started, or the running agent stopped). */
export const STOP_ANNOTATION = "kubetask.io/stop";
/** The Go operator's name for the same request; accepted as an alias. */
export const TERMINATE_ANNOTATION = "kubetask.io/terminate";

export const TASK_PHASES = ["Pending", "Queued", "Running", "Completed", "Failed"] as const;
export const taskPhase = z.enum(TASK_PHASES);
export type TaskPhase = z.infer<typeof taskPhase>;

/**
 * A Context reference on a Task: its mountPath must lie under the Agent's
 * workspaceDir or allowedMountPrefixes (the controller checks that, knowing
 * the Agent) and may not climb out of them with "..".
 */
export const taskContextMount = contextMount.extend({
  mountPath: taskMountPath("mountPath").optional().describe(
    "Absolute path to mount the content at, under the Agent's workspaceDir (or one of its " +
      "allowedMountPrefixes). Empty: appended to task.md inside <context> tags.",
  ),
});

export const taskSpec = z.object({
  description: z.string().max(MAX_TEXT_LENGTH).optional().describe(
    "Task instruction; becomes the start of task.md (at most 256 KiB).",
  ),
  contexts: z.array(taskContextMount).max(MAX_CONTEXTS).optional().describe(
    "References to reusable Context resources (at most 32).",
  ),
  agentRef: objectName("agentRef").optional().describe(
    'Name of the Agent in the Task\'s namespace. Left out: the Agent named "default", or, if ' +
      "there is none, the built-in Agent (the default image with the namespace's default " +
      "ServiceAccount). A named Agent that does not exist keeps the Task Pending.",
  ),
  humanInTheLoop: humanInTheLoop.optional().describe(
    "Keep the container alive after the agent exits (the Agent must set command).",
  ),
  timeout: duration("timeout").optional().describe(
    'Longest the agent may run, e.g. "30m" or "2h", counted from when its Job starts the pod ' +
      "(time waiting for capacity does not count). Past it the agent is stopped and the Task " +
      "fails with reason Timeout. Defaults to the Agent's timeout; none means no limit.",
  ),
  budget: budget.optional().describe(
    "Most the agent's model calls may spend (the Agent needs a modelProvider). The gateway " +
      "refuses a call whose worst case would pass it; the Task then fails with reason " +
      "BudgetExceeded. Defaults to the Agent's budget; at most the Agent's maxBudget.",
  ),
  startupTimeout: duration("startupTimeout").optional().describe(
    'Longest the pod may take to start the agent (or its Git clone), e.g. "2m", counted from ' +
      "when the Job is created (time Queued does not count). Past it a Task still Pending on " +
      "its pod fails with the reason that held it (ImagePullBackOff, Unschedulable, ...). It " +
      "can only shorten the Agent's startupTimeout: a longer one is capped at the Agent's.",
  ),
});
export type TaskSpec = z.infer<typeof taskSpec>;

/** Tokens and cost of one agent run: the gateway's count, or what the agent reported. */
export const taskUsage = z.object({
  inputTokens: z.int().min(0).optional().describe("Tokens the model read, over the whole run."),
  outputTokens: z.int().min(0).optional().describe("Tokens the model wrote, over the whole run."),
  cacheReadTokens: z.int().min(0).optional().describe(
    "Input tokens read from the provider's prompt cache (gateway only).",
  ),
  cacheWriteTokens: z.int().min(0).optional().describe(
    "Input tokens written to the provider's prompt cache (gateway only).",
  ),
  costUSD: usdAmount("usage.costUSD").optional().describe(
    'Cost in US dollars, a decimal string such as "0.0123": from the ModelProvider\'s prices ' +
      "(gateway; rounded up), or as the agent CLI computed it.",
  ),
  model: z.string().max(128).optional().describe("The model used (the last one, if several)."),
  requests: z.int().min(0).optional().describe("Model API calls the gateway forwarded."),
  source: z.enum(["Gateway", "Agent"]).optional().describe(
    "Gateway: counted by the KubeTask model gateway from every response, kept current while " +
      "the Task runs (the truth). Agent: what the agent printed when it ended.",
  ),
  updateTime: z.string().optional().describe("When the gateway last wrote these figures."),
  budgetExceeded: z.string().max(1024).optional().describe(
    "Set by the gateway when it refused a call for the Task's budget (the message the agent " +
      "got); the operator then stops the Task with reason BudgetExceeded.",
  ),
  agentReported: z.object({
    inputTokens: z.int().min(0).optional(),
    outputTokens: z.int().min(0).optional(),
    costUSD: usdAmount("usage.agentReported.costUSD").optional(),
  }).optional().describe(
    "Through the gateway: what the agent itself reported at the end, kept as a cross-check.",
  ),
});
export type TaskUsage = z.infer<typeof taskUsage>;

export const taskStatus = z.object({
  phase: taskPhase.optional(),
  jobName: z.string().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(condition).optional(),
  exitCode: z.int32().optional().describe("Exit code of the agent container, once it ended."),
  summary: z.string().max(2048).optional().describe(
    "What the agent reported: its termination message (/dev/termination-log) without output " +
      "lines, or the end of its log if it failed without one.",
  ),
  outputs: z.record(z.string(), z.string().max(1024)).optional().describe(
    "Named results the agent reported as lines `::kubetask-output NAME=VALUE::` in its " +
      "termination message (at most 16), e.g. outputs.pr.",
  ).meta({ maxProperties: 16 }),
  egress: z.object({
    mode: z.enum(["Unrestricted", "Restricted"]),
    networkPolicy: z.string().optional(),
    git: z.object({
      networkPolicy: z.string().optional().describe(
        "The NetworkPolicy that lets this Task's pod (only) reach its Git contexts' hosts.",
      ),
      allowed: z.array(z.string()).max(64).optional().describe(
        'What it allows, as "host:port -> address/32" (or /128).',
      ),
      message: z.string().max(4096).describe(
        "How the hosts were resolved (DNS, once, as the pod started) and what was left out.",
      ),
    }).optional().describe(
      "Restricted only, with Git contexts: the repositories' hosts, resolved when the pod " +
        "started; an address a host takes later is not followed.",
    ),
  }).optional().describe(
    "The egress policy the agent pod ran under: its Agent's mode and, when Restricted, the " +
      "NetworkPolicy that selects it (and the one for its Git contexts).",
  ),
  usage: taskUsage.optional().describe(
    "Model usage: for an Agent with a modelProvider, the gateway's live count; otherwise what " +
      "the agent reported as a line `::kubetask-usage inputTokens=N outputTokens=N " +
      "costUSD=D model=NAME::` in its termination message.",
  ),
});
export type TaskStatus = z.infer<typeof taskStatus>;

export const task = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: taskSpec,
  status: taskStatus.optional(),
});
export type Task = z.infer<typeof task>;
