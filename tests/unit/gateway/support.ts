// Helpers for the gateway tests: the real gateway server in front of the real
// scripted model server on loopback, with in-memory fakes for everything the
// glue does against the apiserver (Identify, UsageWriter, reader checks).
import {
  type ModelServer,
  type Script,
  startModelServer,
} from "../../../localcluster/model_server/mod.ts";
import { createLogger } from "../../../controllers/runtime/log.ts";
import { type Gateway, startGateway } from "../../../gateway/server.ts";
import { addToCount } from "../../../gateway/namespace_ledger.ts";
import type {
  Budget,
  Identified,
  NamespaceCount,
  NamespaceLimits,
  PeriodDelta,
  Price,
  ProtocolName,
  TaskIdentity,
  Usage,
} from "../../../gateway/types.ts";

export const PROVIDER_KEY = "sk-provider-REAL-KEY-0123456789";
export const TOKEN = "eyJhbGciOi.gateway-token-of-pod-task-1";

export const PRICES: Price[] = [
  { model: "claude-test", inputPerMTok: "3.00", outputPerMTok: "15.00" },
  { model: "gpt-*", inputPerMTok: "1.25", outputPerMTok: "10.00", cacheReadPerMTok: "0.125" },
  { model: "gemini-test", inputPerMTok: "0.30", outputPerMTok: "2.50" },
];

export interface Write {
  namespace: string;
  task: string;
  taskUid: string;
  usage: Usage;
  budgetExceeded?: string;
}

export interface Harness {
  gateway: Gateway;
  upstream: ModelServer;
  writes: Write[];
  logs: string[];
  identity: TaskIdentity;
  /** What the spend writer was asked to add, and the NamespaceBudget status it holds now. */
  spends: { namespace: string; deltas: PeriodDelta[] }[];
  namespaceStatus: { counted: NamespaceCount };
  /** The gateway's base URL for this Task's provider, e.g. http://127.0.0.1:P/p/prov. */
  base: string;
  dir: string;
}

export interface HarnessOptions {
  protocol?: ProtocolName;
  scripts: Script[];
  budget?: Budget;
  usageSoFar?: Usage;
  /** The Task's namespace's NamespaceBudget (the status the spend writer starts from). */
  namespaceBudget?: NamespaceLimits;
  /** The gateway's clock for the namespaces' periods. */
  now?: () => Date;
  eventDelayMs?: number;
  /** Identify answers this instead of the identity (for refusals). */
  refuse?: Identified;
  dir?: string;
  transcriptMaxBytesPerTask?: number;
  /** Identify accepts the token for any provider in the path (a glue bug the core must catch). */
  ignoreProvider?: boolean;
  /** For the sweep; default: every Task exists. */
  taskExists?: (namespace: string, uid: string) => Promise<boolean>;
}

export async function withGateway(
  o: HarnessOptions,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const upstream = await startModelServer({
    hostname: "127.0.0.1",
    scripts: o.scripts,
    eventDelayMs: o.eventDelayMs,
  });
  const dir = o.dir ?? await Deno.makeTempDir({ prefix: "gateway-test-" });
  const writes: Write[] = [];
  const logs: string[] = [];
  const identity: TaskIdentity = {
    namespace: "team-a",
    task: "task-1",
    taskUid: "0b4b6f7e-1111-4c2b-9a8e-5f1d2c3b4a59",
    agent: "coder",
    pod: "task-1-abcde",
    provider: {
      name: "prov",
      protocol: o.protocol ?? "anthropic-messages",
      upstreamURL: upstream.url + "/",
      key: PROVIDER_KEY,
      prices: PRICES,
      defaultMaxOutputTokens: 4096,
    },
    budget: o.budget,
    usageSoFar: o.usageSoFar,
    ...(o.namespaceBudget ? { namespaceBudget: o.namespaceBudget } : {}),
  };
  const spends: Harness["spends"] = [];
  const namespaceStatus = { counted: o.namespaceBudget?.counted ?? {} };
  const gateway = await startGateway({
    hostname: "127.0.0.1",
    identify: (token, provider) =>
      Promise.resolve(
        o.refuse ??
          (token === TOKEN && (provider === "prov" || o.ignoreProvider)
            ? { ok: true, identity }
            : { ok: false, status: 401, reason: "token refused" }),
      ),
    usageWriter: {
      write: (namespace, task, taskUid, usage, budgetExceeded) => {
        writes.push({ namespace, task, taskUid, usage: { ...usage }, budgetExceeded });
        return Promise.resolve();
      },
    },
    spendWriter: {
      add: (namespace, deltas) => {
        spends.push({ namespace, deltas: structuredClone(deltas) });
        if (!o.namespaceBudget) return Promise.resolve(undefined);
        namespaceStatus.counted = addToCount(namespaceStatus.counted, deltas);
        return Promise.resolve(namespaceStatus.counted);
      },
    },
    ...(o.now ? { now: o.now } : {}),
    authorizeReader: (request) =>
      Promise.resolve(
        request.headers.get("x-kubetask-user-authorization") === "Bearer owner"
          ? { ok: true }
          : { ok: false, status: 403, reason: "forbidden" },
      ),
    resolveTask: (namespace, name) =>
      Promise.resolve(
        namespace === identity.namespace && name === identity.task
          ? { uid: identity.taskUid }
          : undefined,
      ),
    taskExists: o.taskExists ?? (() => Promise.resolve(true)),
    ready: () => true,
    transcriptDir: dir,
    transcriptMaxBytesPerTask: o.transcriptMaxBytesPerTask,
    usageFlushIntervalMs: 60_000, // tests flush by hand
    logger: createLogger({ sink: (l) => logs.push(l), level: "debug" }),
    shutdownGraceMs: 2000,
  });
  try {
    await fn({
      gateway,
      upstream,
      writes,
      logs,
      identity,
      spends,
      namespaceStatus,
      base: `${gateway.url}/p/prov`,
      dir,
    });
  } finally {
    await gateway.close();
    await upstream.close();
    if (!o.dir) await Deno.remove(dir, { recursive: true });
  }
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** Every file under dir, decompressed, as one string (to grep for secrets). */
export async function allTranscriptText(dir: string): Promise<string> {
  const { gunzipSync } = await import("node:zlib");
  let out = "";
  for await (const ns of Deno.readDir(dir)) {
    for await (const f of Deno.readDir(`${dir}/${ns.name}`)) {
      out += new TextDecoder().decode(
        gunzipSync(await Deno.readFile(`${dir}/${ns.name}/${f.name}`)),
      );
    }
  }
  return out;
}

// Requests as each CLI sends them, carrying a script marker and the CLI's shell tool.

export function anthropicRequest(marker: string, stream: boolean, maxTokens = 1024) {
  return {
    model: "claude-test",
    max_tokens: maxTokens,
    stream,
    tools: [{
      name: "Bash",
      input_schema: { type: "object", properties: { command: { type: "string" } } },
    }],
    messages: [{ role: "user", content: [{ type: "text", text: `Please do ${marker}` }] }],
  };
}

export function responsesRequest(marker: string, stream: boolean) {
  return {
    model: "gpt-test",
    stream,
    max_output_tokens: 1024,
    tools: [{
      type: "function",
      name: "exec_command",
      parameters: { type: "object", properties: { cmd: { type: "string" } } },
    }],
    input: [{ role: "user", content: [{ type: "input_text", text: `Please do ${marker}` }] }],
  };
}

export function chatRequest(marker: string, stream: boolean) {
  return {
    model: "gpt-chat",
    stream,
    max_tokens: 1024,
    tools: [{
      type: "function",
      function: {
        name: "bash",
        parameters: { type: "object", properties: { command: { type: "string" } } },
      },
    }],
    messages: [{ role: "user", content: `Please do ${marker}` }],
  };
}

export function geminiRequest(marker: string) {
  return {
    generationConfig: { maxOutputTokens: 1024 },
    tools: [{
      functionDeclarations: [{
        name: "run_shell_command",
        parametersJsonSchema: { type: "object", properties: { command: { type: "string" } } },
      }],
    }],
    contents: [{ role: "user", parts: [{ text: `Please do ${marker}` }] }],
  };
}
