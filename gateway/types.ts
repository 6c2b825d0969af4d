// The gateway's interfaces: what the core (protocols, metering, budgets,
// transcripts, proxy, server) shares with the glue that talks to the
// apiserver (identity.ts, providers.ts, main.ts). See design/gateway-contract.md.
import type { BudgetPeriod, PeriodLimit, PeriodSpend } from "../api/v1alpha1/namespacebudget.ts";

export type ProtocolName =
  | "anthropic-messages"
  | "openai-responses"
  | "openai-chat-completions"
  | "gemini";

/** Decimal strings in USD per million tokens, e.g. "3.00". */
export interface Price {
  /** Exact model name, or a prefix ending in "*". */
  model: string;
  inputPerMTok: string;
  outputPerMTok: string;
  cacheReadPerMTok?: string;
  cacheWritePerMTok?: string;
}

export interface Provider {
  name: string;
  protocol: ProtocolName;
  upstreamURL: string;
  /** The real API key: never logged, never stored in transcripts. */
  key: string;
  prices: Price[];
  /** Worst case when a request sets no max output tokens. */
  defaultMaxOutputTokens: number;
}

/** tokens = input + output + cache tokens. */
export interface Budget {
  costUSD?: string;
  tokens?: number;
}

/** Cumulative per Task. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costNanoUSD: number;
  requests: number;
  model?: string;
}

/** A NamespaceBudget's status counts, per period. */
export interface NamespaceCount {
  daily?: PeriodSpend;
  monthly?: PeriodSpend;
}

/** The Task's namespace's NamespaceBudget as the glue read it. */
export interface NamespaceLimits {
  limits: { daily?: PeriodLimit; monthly?: PeriodLimit };
  counted: NamespaceCount;
}

/** Spend settled in the periods starting at `starts` (ms since the epoch). */
export interface PeriodDelta {
  starts: Record<BudgetPeriod, number>;
  spent: { costNano: number; tokens: number; requests: number };
}

/** The glue: adds spend to the namespace's NamespaceBudget status (resourceVersion precondition,
 *  retried on a conflict); the count it wrote, or undefined when the namespace has no budget. */
export interface SpendWriter {
  add(namespace: string, deltas: PeriodDelta[]): Promise<NamespaceCount | undefined>;
}

export interface TaskIdentity {
  namespace: string;
  task: string;
  taskUid: string;
  agent: string;
  pod: string;
  provider: Provider;
  budget?: Budget;
  /** status.usage as the apiserver has it when the identity was resolved: the ledger starts from it
   *  the first time this Task is seen (so a gateway restart loses nothing already written). */
  usageSoFar?: Usage;
  /** The namespace's NamespaceBudget, when it has one. */
  namespaceBudget?: NamespaceLimits;
}

export type Identified =
  | { ok: true; identity: TaskIdentity }
  | { ok: false; status: 401 | 403; reason: string };

/** The glue: token + the provider named in the path. */
export type Identify = (token: string, providerInPath: string) => Promise<Identified>;

/** The glue: merge-patch tasks/status with field manager kubetask-gateway. */
export interface UsageWriter {
  write(
    namespace: string,
    task: string,
    taskUid: string,
    usage: Usage,
    budgetExceeded?: string,
  ): Promise<void>;
}

export type ReaderDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/** The glue: may the user behind this request read the Task's transcript? */
export type AuthorizeReader = (
  request: Request,
  namespace: string,
  task: string,
) => Promise<ReaderDecision>;

/** The glue: the Task's uid, or undefined when there is no such Task. */
export type ResolveTask = (namespace: string, name: string) => Promise<{ uid: string } | undefined>;

/** The glue: does a Task with this uid still exist (for the transcript sweep)? */
export type TaskExists = (namespace: string, uid: string) => Promise<boolean>;

/** Token counts of one response (or the part of a stream seen so far). */
export interface Tokens {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** What the gateway reads from a request before forwarding it. */
export interface RequestFacts {
  model?: string;
  /** The request's own output limit (0: the endpoint generates nothing, e.g. token counting);
   *  undefined: it sets none. */
  maxOutputTokens?: number;
  stream: boolean;
}

/** One server-sent event as it passed through. */
export interface SseEvent {
  event?: string;
  data: string;
  /** The data parsed as JSON, when the proxy parsed it already (null: not JSON). */
  json?: unknown;
}

/** Meters a stream from its events; the usage is cumulative over the events seen. */
export interface StreamMeter {
  event(e: SseEvent): void;
  usage(): Tokens;
  /** The assistant's text deltas joined (for the transcript). */
  text(): string;
}

/** What a transcript rendering shows of one exchange. */
export interface ExchangeSummary {
  lastUserMessage?: string;
  assistantText: string;
  toolCalls: { name: string; input: string }[];
}

export interface ProtocolModule {
  name: ProtocolName;
  /** The model, the output limit and whether the answer streams, from the path (after the
   *  provider prefix) and the parsed JSON body. */
  requestFacts(path: string, body: unknown): RequestFacts;
  /** A changed body to forward instead (e.g. asking a stream to report its usage); undefined:
   *  forward the client's bytes unchanged. */
  rewriteRequest?(body: unknown): unknown | undefined;
  /** Usage from a non-streamed JSON answer; undefined when it reports none. */
  usageFromJson(body: unknown): Tokens | undefined;
  meter(): StreamMeter;
  /** The JSON body of a refusal in the protocol's error shape. */
  errorBody(status: number, message: string, code?: string): unknown;
  /** For the readable transcript: request body, response body or the stream's parsed events. */
  summarize(request: unknown, response: unknown, streamEvents?: unknown[]): ExchangeSummary;
}
