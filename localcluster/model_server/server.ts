// The scripted model server: routes each request to its wire protocol,
// picks the script and turn, serves scripted failures, records every request
// and sums the token usage it reported per script.
import { anthropic } from "./anthropic.ts";
import { chatCompletions } from "./chat_completions.ts";
import { gemini } from "./gemini.ts";
import { openaiResponses } from "./openai_responses.ts";
import { type Answer, type Incoming, json, type Protocol, type ProtocolName } from "./protocol.ts";
import {
  callId,
  findScript,
  inputTokensFor,
  outputTokensFor,
  type Script,
  turnAt,
} from "./script.ts";
import { pickShellTool, shellArguments } from "./shell_tool.ts";

export interface RecordedRequest {
  protocol: ProtocolName;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  marker?: string;
  turn?: number;
  status: number;
  /** The client went away before a paced stream (eventDelayMs) ended. */
  aborted?: boolean;
  /** The tokens the answer to a scripted turn reported. */
  usage?: { inputTokens: number; outputTokens: number };
}

export interface ModelServer {
  /** Base URL, e.g. http://10.x.y.1:PORT (no trailing slash). */
  url: string;
  requests: RecordedRequest[];
  /** Tokens the server reported in responses for a script (sum over all answered turns). */
  usage(marker: string): { inputTokens: number; outputTokens: number };
  close(): Promise<void>;
}

export interface ModelServerOptions {
  hostname: string;
  /** 0 or absent: a free port. */
  port?: number;
  scripts: Script[];
  /** Serve https: PEM certificate chain and key, each as the PEM text or a path to a PEM file. */
  tls?: { cert: string; key: string };
  /** Pace streamed answers: one SSE event per this many milliseconds (a slow model, for tests of
   *  clients and proxies that cut or abandon a stream). Absent: all events at once. */
  eventDelayMs?: number;
}

const protocols: Protocol[] = [anthropic, openaiResponses, gemini, chatCompletions];

/** The protocol a path belongs to, also for paths no protocol serves (to record them). */
function protocolFor(url: URL): Protocol | undefined {
  return protocols.find((p) => p.handles(url));
}

/** How many tool results the conversation of a request to `path` (its query too) carrying `body`
 *  holds: the scripted turn it asks for, when it offers tools (a side request, such as a CLI's
 *  compaction of its history, may offer none). Undefined for paths no protocol serves and
 *  requests with no conversation. For reading a proxy's record of a request that never got here. */
export function toolResultsOf(path: string, body: unknown): number | undefined {
  const url = new URL(path, "http://model-server.invalid");
  const protocol = protocolFor(url);
  if (!protocol || !body || typeof body !== "object" || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  return protocol.conversation({ path: url.pathname, url, body: b, bodyText: JSON.stringify(b) })
    ?.toolResults;
}

function guessProtocol(url: URL): ProtocolName {
  const p = url.pathname;
  if (p.startsWith("/v1beta") || p.includes("/models/") && p.includes(":")) return "gemini";
  if (p.includes("/messages")) return "anthropic";
  if (p.includes("/responses")) return "openai-responses";
  return "chat-completions";
}

export async function startModelServer(opts: ModelServerOptions): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  const usage = new Map<string, { inputTokens: number; outputTokens: number }>();
  // How many times each failure has been served, by script marker and failure index.
  const served = new Map<string, number>();

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const bodyText = await request.text();
    let body: Record<string, unknown> = {};
    let recordedBody: unknown = bodyText;
    try {
      const parsed = bodyText === "" ? {} : JSON.parse(bodyText);
      recordedBody = parsed;
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed;
    } catch {
      // not JSON: recorded as text
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => headers[k] = v);
    const record: RecordedRequest = {
      protocol: guessProtocol(url),
      path: url.pathname + url.search,
      headers,
      body: recordedBody,
      status: 0,
    };
    requests.push(record);
    const respond = (r: Response) => {
      record.status = r.status;
      return opts.eventDelayMs ? paced(r, opts.eventDelayMs, record) : r;
    };

    try {
      return respond(reply(request.method, url, body, bodyText, record));
    } catch (e) {
      return respond(json({ error: { message: `model server: ${e}` } }, 500));
    }
  }

  function reply(
    method: string,
    url: URL,
    body: Record<string, unknown>,
    bodyText: string,
    record: RecordedRequest,
  ): Response {
    const protocol = method === "POST" ? protocolFor(url) : undefined;
    if (!protocol) return notServed(method, url);
    record.protocol = protocol.name;
    const incoming: Incoming = { path: url.pathname, url, body, bodyText };
    const conversation = protocol.conversation(incoming);
    const script = conversation && findScript(opts.scripts, conversation, bodyText);
    if (script) record.marker = script.marker;
    const tool = conversation && pickShellTool(conversation.tools);
    // Side requests (title generation, routing, probes) offer no tools: they get the generic answer.
    if (!conversation || !script || conversation.tools.length === 0) {
      return protocol.generic(incoming);
    }
    const index = conversation.toolResults;
    record.turn = index;

    const failures = script.failures ?? [];
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i];
      if (f.at !== index) continue;
      const key = `${script.marker}\u0000${i}`;
      const count = served.get(key) ?? 0;
      if (count >= f.times) continue;
      served.set(key, count + 1);
      return protocol.error(f.status, f.message ?? defaultMessage(f.status));
    }

    const turn = turnAt(script, index);
    const answer: Answer = {
      id: callId(script.marker, index),
      text: turn.text,
      model: typeof body.model === "string" ? body.model : modelFromPath(url) ?? "model-server",
      inputTokens: turn.usage?.inputTokens ?? inputTokensFor(bodyText),
      outputTokens: 0,
    };
    if ("shell" in turn) {
      if (!tool) {
        answer.text = `[model server] the request offers no shell tool to run: ${turn.shell}`;
      } else {
        answer.call = {
          id: answer.id,
          name: tool.name,
          args: shellArguments(tool, turn.shell),
        };
      }
    }
    answer.outputTokens = turn.usage?.outputTokens ??
      outputTokensFor({ text: answer.text ?? "" }, answer.call?.args);
    record.usage = { inputTokens: answer.inputTokens, outputTokens: answer.outputTokens };
    const sum = usage.get(script.marker) ?? { inputTokens: 0, outputTokens: 0 };
    sum.inputTokens += answer.inputTokens;
    sum.outputTokens += answer.outputTokens;
    usage.set(script.marker, sum);
    return protocol.respond(answer, incoming);
  }

  const tls = opts.tls && { cert: await pem(opts.tls.cert), key: await pem(opts.tls.key) };
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port ?? 0,
    onListen: () => listening.resolve(),
    ...(tls ?? {}),
  }, handle);
  await listening.promise;
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `${opts.tls ? "https" : "http"}://${host}:${addr.port}`,
    requests,
    usage: (marker) => ({ ...(usage.get(marker) ?? { inputTokens: 0, outputTokens: 0 }) }),
    close: async () => {
      await server.shutdown();
    },
  };
}

/** The same SSE answer, one event at a time; notes in the record when the client went away. */
function paced(r: Response, delayMs: number, record: RecordedRequest): Response {
  if (!r.body || !(r.headers.get("content-type") ?? "").startsWith("text/event-stream")) return r;
  const encoder = new TextEncoder();
  let frames: string[] | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      frames ??= (await r.text()).split(/(?<=\n\n)/);
      const next = frames.shift();
      if (next === undefined) return controller.close();
      await new Promise((resolve) => timer = setTimeout(resolve, delayMs));
      controller.enqueue(encoder.encode(next));
    },
    cancel() {
      clearTimeout(timer);
      record.aborted = true;
    },
  });
  return new Response(body, { status: r.status, headers: r.headers });
}

async function pem(textOrPath: string): Promise<string> {
  return textOrPath.includes("-----BEGIN ") ? textOrPath : await Deno.readTextFile(textOrPath);
}

function modelFromPath(url: URL): string | undefined {
  return /\/models\/([^/:]+)/.exec(url.pathname)?.[1];
}

function defaultMessage(status: number): string {
  if (status === 401) return "invalid API key (model server: scripted failure)";
  if (status === 429) return "rate limited (model server: scripted failure)";
  return `scripted failure ${status}`;
}

/** Model listings get an empty list; anything else a 404 naming the path. */
function notServed(method: string, url: URL): Response {
  if (method === "GET" && /\/models\/?$/.test(url.pathname)) {
    return json({ object: "list", data: [], models: [] });
  }
  return json({ error: { message: `model server: no route for ${method} ${url.pathname}` } }, 404);
}
