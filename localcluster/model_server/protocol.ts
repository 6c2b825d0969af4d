// What every wire protocol module provides to the server, and the SSE framing
// they share.
import type { Conversation } from "./script.ts";

export type ProtocolName = "anthropic" | "openai-responses" | "gemini" | "chat-completions";

/** One answer, protocol-neutral: optional text, then optionally one shell tool call. */
export interface Answer {
  /** Stable for the same script and turn, so a retried request gets the same ids. */
  id: string;
  text?: string;
  call?: { id: string; name: string; args: Record<string, unknown> };
  model: string;
  inputTokens: number;
  outputTokens: number;
}

export interface Incoming {
  path: string;
  /** Path plus query, e.g. /v1beta/models/x:streamGenerateContent?alt=sse. */
  url: URL;
  body: Record<string, unknown>;
  bodyText: string;
}

export interface Protocol {
  name: ProtocolName;
  /** Does this protocol serve the request's path (POST)? */
  handles(url: URL): boolean;
  /** The conversation of a model turn; undefined for side endpoints such as token counting. */
  conversation(req: Incoming): Conversation | undefined;
  /** The scripted answer, streamed or not as the request asks. */
  respond(answer: Answer, req: Incoming): Response;
  /** A harmless answer in the shape the endpoint expects, for requests that belong to no script. */
  generic(req: Incoming): Response;
  error(status: number, message: string): Response;
}

export interface SseEvent {
  event?: string;
  data: unknown;
}

/** An SSE response: each event as `event:`/`data:` lines and a blank line. */
export function sse(events: SseEvent[], extraHeaders: Record<string, string> = {}): Response {
  const encoder = new TextEncoder();
  const frames = events.map((e) =>
    (e.event ? `event: ${e.event}\n` : "") +
    `data: ${typeof e.data === "string" ? e.data : JSON.stringify(e.data)}\n\n`
  );
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const f of frames) controller.enqueue(encoder.encode(f));
      controller.close();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      ...extraHeaders,
    },
  });
}

export function json(
  data: unknown,
  status = 200,
  extraHeaders: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json", ...extraHeaders },
  });
}

/**
 * Headers an error response carries, as the providers send them: a short
 * retry-after on the statuses clients retry, and x-should-retry saying
 * whether retrying can help (a bad key cannot).
 */
export function errorHeaders(status: number): Record<string, string> {
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  return retryable
    ? { "retry-after": "1", "x-should-retry": "true" }
    : { "x-should-retry": "false" };
}
