// The proxy handler: identifies the Task behind a request's token, reserves
// the request's worst case against its budget, forwards it (streaming) to the
// provider with the real key, meters the answer as it passes through
// unchanged, cuts a stream that crosses the budget, and records the exchange.
import type { Logger } from "../controllers/runtime/types.ts";
import {
  clientResponseHeaders,
  clientToken,
  queryWithoutKey,
  upstreamRequestHeaders,
} from "./headers.ts";
import { Exchange } from "./exchange.ts";
import { amountOf, type BudgetLedger } from "./ledger.ts";
import type { GatewayMetrics, RefusalReason } from "./metrics.ts";
import { costNano, findPrice, NO_TOKENS, ratesOf } from "./prices.ts";
import { guessProtocol, protocolModule } from "./protocols/mod.ts";
import type { TranscriptStore } from "./transcripts.ts";
import type { Identify, ProtocolName, Tokens } from "./types.ts";

export interface ProxyOptions {
  identify: Identify;
  ledger: BudgetLedger;
  metrics: GatewayMetrics;
  logger: Logger;
  transcripts?: TranscriptStore;
  /** Requests larger than this are refused (413); default 32 MiB. */
  maxRequestBytes?: number;
  /** What one exchange keeps for its transcript (events or body bytes); default 16 MiB. */
  maxRecordedBytes?: number;
  /** Aborted when the gateway shuts down: every upstream request in flight is aborted. */
  shutdown?: AbortSignal;
}

export type ProxyHandler = (request: Request, provider: string, rest: string) => Promise<Response>;

const JSON_HEADERS = { "content-type": "application/json" };

function refusal(protocol: ProtocolName, status: number, message: string, code?: string) {
  return new Response(JSON.stringify(protocolModule(protocol).errorBody(status, message, code)), {
    status,
    headers: JSON_HEADERS,
  });
}

export function createProxy(opts: ProxyOptions): ProxyHandler {
  const maxRequestBytes = opts.maxRequestBytes ?? 32 * 1024 * 1024;
  const maxRecorded = opts.maxRecordedBytes ?? 16 * 1024 * 1024;
  const unpriced = new Set<string>();
  const log = opts.logger;

  const refuse = (
    reason: RefusalReason,
    protocol: ProtocolName,
    status: number,
    message: string,
    fields: Record<string, unknown>,
  ) => {
    opts.metrics.refusal(reason);
    log.info("request refused", { reason, status, message, ...fields });
    return refusal(protocol, status, message);
  };

  return async (request, providerName, rest) => {
    const started = Date.now();
    const url = new URL(request.url);
    const guessed = guessProtocol(rest);
    const token = clientToken(request.headers, url);
    if (!token) {
      return refuse("unauthenticated", guessed, 401, "KubeTask gateway: no token", {
        provider: providerName,
      });
    }
    let identified;
    try {
      identified = await opts.identify(token, providerName);
    } catch (err) {
      log.error("identify failed", { provider: providerName, error: err });
      return refusal(guessed, 503, "KubeTask gateway: cannot check the token now");
    }
    if (!identified.ok) {
      const reason = identified.status === 401 ? "unauthenticated" : "forbidden";
      return refuse(reason, guessed, identified.status, `KubeTask gateway: ${identified.reason}`, {
        provider: providerName,
      });
    }
    const identity = identified.identity;
    const provider = identity.provider;
    const where = { namespace: identity.namespace, task: identity.task, pod: identity.pod };
    if (provider.name !== providerName) {
      return refuse("forbidden", guessed, 403, "KubeTask gateway: not this Task's provider", where);
    }
    const protocol = protocolModule(provider.protocol);

    // The body, whole (the budget check needs its size and fields before anything is forwarded).
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > maxRequestBytes) {
      return refusal(provider.protocol, 413, "KubeTask gateway: request too large");
    }
    let bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > maxRequestBytes) {
      return refusal(provider.protocol, 413, "KubeTask gateway: request too large");
    }
    let body: unknown;
    try {
      body = bytes.length ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
    } catch {
      body = undefined;
    }
    const facts = protocol.requestFacts(rest, body);
    const rewritten = body === undefined ? undefined : protocol.rewriteRequest?.(body);
    if (rewritten !== undefined) bytes = new TextEncoder().encode(JSON.stringify(rewritten));

    const price = findPrice(provider.prices, facts.model);
    if (!price && facts.model) {
      const key = `${provider.name}\u0000${facts.model}`;
      if (!unpriced.has(key)) {
        unpriced.add(key);
        log.warn("model has no price: it costs 0", { provider: provider.name, model: facts.model });
      }
    }
    const rates = ratesOf(price);
    // Only POSTs generate (GET /models and the like cost nothing). Every input token is at least
    // one byte; priced at the dearer of input and cache write.
    const generates = request.method === "POST";
    const worstOutput = generates ? facts.maxOutputTokens ?? provider.defaultMaxOutputTokens : 0;
    const worstTokens: Tokens = {
      input: generates ? bytes.length : 0,
      output: worstOutput,
      cacheRead: 0,
      cacheWrite: 0,
    };
    const worstCost = costNano(worstTokens, {
      ...rates,
      input: Math.max(rates.input, rates.cacheWrite),
    });
    const reserved = opts.ledger.reserve(identity, amountOf(worstTokens, worstCost));
    const path = url.pathname + queryWithoutKey(url);
    if (!reserved.ok) {
      opts.metrics.request(identity.namespace, identity.agent, provider.name, 400);
      void opts.transcripts?.append(identity.namespace, identity.taskUid, {
        time: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        method: request.method,
        path,
        protocol: provider.protocol,
        model: facts.model,
        status: 400,
        request: body,
        refused: reserved.message,
      });
      opts.metrics.refusal("budget");
      log.info("request refused", { reason: "budget", message: reserved.message, ...where });
      return new Response(
        JSON.stringify(protocol.errorBody(400, reserved.message, "kubetask_budget_exhausted")),
        { status: 400, headers: JSON_HEADERS },
      );
    }
    const reservation = reserved.reservation;

    const base = provider.upstreamURL.replace(/\/+$/, "");
    const target = new URL(base + rest + queryWithoutKey(url));
    if (!(target.href.startsWith(base + "/") || target.href === base)) {
      reservation.settle(NO_TOKENS, 0, undefined);
      return refusal(provider.protocol, 400, "KubeTask gateway: bad path");
    }

    const upstreamAbort = new AbortController();
    const onClientGone = () => upstreamAbort.abort(new Error("client went away"));
    const onShutdown = () => upstreamAbort.abort(new Error("gateway shutting down"));
    request.signal.addEventListener("abort", onClientGone, { once: true });
    opts.shutdown?.addEventListener("abort", onShutdown, { once: true });
    const exchange = new Exchange({
      opts,
      identity,
      protocol,
      rates,
      reservation,
      model: facts.model,
      record: {
        time: new Date(started).toISOString(),
        durationMs: 0,
        method: request.method,
        path,
        protocol: provider.protocol,
        model: facts.model,
        status: 0,
        request: body ?? (bytes.length ? "(not JSON)" : undefined),
      },
      started,
      maxRecorded,
      done: () => {
        request.signal.removeEventListener("abort", onClientGone);
        opts.shutdown?.removeEventListener("abort", onShutdown);
      },
    });

    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: request.method,
        headers: upstreamRequestHeaders(request.headers, provider.protocol, provider.key),
        body: request.method === "GET" || request.method === "HEAD" ? undefined : bytes,
        redirect: "manual",
        signal: upstreamAbort.signal,
      });
    } catch (err) {
      const gone = upstreamAbort.signal.aborted;
      exchange.finish(gone ? 499 : 502, true);
      if (gone) return new Response(null, { status: 499 });
      opts.metrics.refusal("upstream_unreachable");
      log.warn("upstream unreachable", { provider: provider.name, error: err, ...where });
      return refusal(provider.protocol, 502, "KubeTask gateway: the provider is unreachable");
    }
    // From here a client that goes away is seen by the body stream's cancel().
    request.signal.removeEventListener("abort", onClientGone);
    exchange.status = upstream.status;
    exchange.upstreamMs = Date.now() - started;
    const sse = (upstream.headers.get("content-type") ?? "").includes("text/event-stream");
    const headers = clientResponseHeaders(upstream.headers);
    if (!upstream.body) {
      exchange.finish(upstream.status, false);
      return new Response(null, { status: upstream.status, headers });
    }
    const reader = upstream.body.getReader();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          // Upstream died mid-answer, or we aborted it: the client sees the stream break.
          exchange.finish(upstream.status, true);
          controller.error(err);
          return;
        }
        if (chunk.done) {
          exchange.finish(upstream.status, false);
          controller.close();
          return;
        }
        controller.enqueue(chunk.value);
        const crossed = sse ? exchange.sseChunk(chunk.value) : exchange.bodyChunk(chunk.value);
        if (crossed) {
          // The event that crossed the cap went out; nothing after it does.
          opts.ledger.mark(reservation.entry);
          upstreamAbort.abort(new Error("budget exhausted mid-stream"));
          reader.cancel().catch(() => {});
          exchange.finish(upstream.status, true);
          log.info("stream cut: budget exhausted", where);
          controller.close();
        }
      },
      cancel() {
        upstreamAbort.abort(new Error("client went away"));
        reader.cancel().catch(() => {});
        exchange.finish(upstream.status, true);
      },
    });
    return new Response(stream, { status: upstream.status, headers });
  };
}
