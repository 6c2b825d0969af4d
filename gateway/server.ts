// The gateway's HTTP(S) server: /p/<provider>/<rest> to the proxy, transcripts
// for authorized readers, probes and metrics. Everything that needs the
// apiserver is injected (see types.ts), so the server runs in unit tests with
// fakes and the scripted model server as upstream.
import type { Logger } from "../controllers/runtime/types.ts";
import { createLogger } from "../controllers/runtime/log.ts";
import { BudgetLedger } from "./ledger.ts";
import { GatewayMetrics } from "./metrics.ts";
import { createProxy } from "./proxy.ts";
import { SpendReporter, UsageReporter } from "./reporter.ts";
import { NamespaceLedger } from "./namespace_ledger.ts";
import { renderTranscriptText } from "./transcript_render.ts";
import { TranscriptStore } from "./transcripts.ts";
import type {
  AuthorizeReader,
  Identify,
  ResolveTask,
  SpendWriter,
  TaskExists,
  UsageWriter,
} from "./types.ts";

export interface GatewayOptions {
  /** Default 0.0.0.0. */
  hostname?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** PEM texts; absent: plain HTTP (development and tests). */
  tls?: { cert: string; key: string };
  identify: Identify;
  usageWriter: UsageWriter;
  /** Adds namespaces' spend to their NamespaceBudget; absent: namespace budgets are not
   *  enforced (nothing would count them durably). */
  spendWriter?: SpendWriter;
  /** The clock of the namespaces' periods (tests). */
  now?: () => Date;
  authorizeReader: AuthorizeReader;
  resolveTask: ResolveTask;
  taskExists: TaskExists;
  /** /readyz answers 200 once this says so. */
  ready: () => boolean;
  /** Who may read /metrics, from the Authorization header (like the operator's); absent: anyone. */
  authorizeMetrics?: (authorization: string | null) => Promise<200 | 401 | 403 | 500>;
  transcriptDir: string;
  transcriptMaxBytesPerTask?: number;
  transcriptRetentionMs?: number;
  /** How often transcripts of deleted Tasks and old ones are swept; default 10 min. */
  sweepIntervalMs?: number;
  usageFlushIntervalMs?: number;
  logger?: Logger;
  /** On close, streams still running after this are aborted (marked incomplete); default 10 s. */
  shutdownGraceMs?: number;
}

export interface Gateway {
  /** e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** One sweep now (it also runs every sweepIntervalMs). */
  sweep(): Promise<void>;
  metrics: GatewayMetrics;
  ledger: BudgetLedger;
  reporter: UsageReporter;
  namespaces?: NamespaceLedger;
  spendReporter?: SpendReporter;
  transcripts: TranscriptStore;
  close(): Promise<void>;
}

const PROVIDER = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function text(body: string, status = 200, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, { status, headers: { "content-type": type } });
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger ?? createLogger({ fields: { component: "gateway" } });
  const metrics = new GatewayMetrics();
  const reporter = new UsageReporter({
    writer: options.usageWriter,
    intervalMs: options.usageFlushIntervalMs,
    logger,
  });
  let spendReporter: SpendReporter | undefined;
  const namespaces = options.spendWriter
    ? new NamespaceLedger((entry) => spendReporter?.changed(entry), options.now)
    : undefined;
  if (namespaces && options.spendWriter) {
    spendReporter = new SpendReporter({
      writer: options.spendWriter,
      ledger: namespaces,
      intervalMs: options.usageFlushIntervalMs,
      logger,
    });
  }
  const ledger = new BudgetLedger((entry, urgent) => reporter.changed(entry, urgent), namespaces);
  const transcripts = new TranscriptStore({
    dir: options.transcriptDir,
    maxBytesPerTask: options.transcriptMaxBytesPerTask,
    retentionMs: options.transcriptRetentionMs,
    logger,
  });
  const shutdown = new AbortController();
  const proxy = createProxy({
    identify: options.identify,
    ledger,
    metrics,
    logger,
    transcripts,
    shutdown: shutdown.signal,
  });

  async function transcript(request: Request, namespace: string, name: string, url: URL) {
    if (!DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name)) {
      return text("invalid namespace or Task name\n", 400);
    }
    const decision = await options.authorizeReader(request, namespace, name);
    if (!decision.ok) return text(`${decision.reason}\n`, decision.status);
    const task = await options.resolveTask(namespace, name);
    if (!task) return text(`Task ${namespace}/${name} not found\n`, 404);
    const records = await transcripts.read(namespace, task.uid);
    if (url.searchParams.get("format") === "json") {
      return text(JSON.stringify(records), 200, "application/json");
    }
    return text(renderTranscriptText(records));
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    try {
      if (path.startsWith("/p/")) {
        const slash = path.indexOf("/", 3);
        const provider = slash < 0 ? path.slice(3) : path.slice(3, slash);
        const rest = slash < 0 ? "/" : path.slice(slash);
        if (!PROVIDER.test(provider)) return text("invalid provider name\n", 404);
        return await proxy(request, provider, rest);
      }
      if (request.method !== "GET") return text("not found\n", 404);
      const t = /^\/transcripts\/([^/]+)\/([^/]+)$/.exec(path);
      if (t) return await transcript(request, t[1], t[2], url);
      if (path === "/healthz") return text("ok\n");
      if (path === "/readyz") return options.ready() ? text("ok\n") : text("not ready\n", 503);
      if (path === "/metrics") {
        const decision = options.authorizeMetrics
          ? await options.authorizeMetrics(request.headers.get("authorization"))
          : 200;
        if (decision !== 200) return text(`metrics: ${decision}\n`, decision);
        return text(metrics.render(), 200, "text/plain; version=0.0.4; charset=utf-8");
      }
      return text("not found\n", 404);
    } catch (err) {
      logger.error("request failed", { path, error: err });
      return text("internal error\n", 500);
    }
  }

  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? 0,
    onListen: () => listening.resolve(),
    ...(options.tls ?? {}),
  }, handle);
  await listening.promise;
  reporter.start();
  spendReporter?.start();
  const sweep = () => void sweepOnce().catch((err) => logger.warn("sweep failed", { error: err }));
  /** Transcripts of deleted or old Tasks, and the ledger's memory of deleted Tasks. */
  async function sweepOnce(): Promise<void> {
    await transcripts.sweep(options.taskExists);
    for (const e of ledger.entries()) {
      if (e.inFlight.size > 0 || await options.taskExists(e.namespace, e.taskUid)) continue;
      if (reporter.forget(e.taskUid)) ledger.forget(e.taskUid);
    }
  }
  const sweeper = setInterval(sweep, options.sweepIntervalMs ?? 600_000);
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${addr.port}`,
    sweep: sweepOnce,
    metrics,
    ledger,
    reporter,
    namespaces,
    spendReporter,
    transcripts,
    close: async () => {
      clearInterval(sweeper);
      const stopped = server.shutdown();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((r) =>
        timer = setTimeout(r, options.shutdownGraceMs ?? 10_000)
      );
      await Promise.race([stopped, grace]);
      clearTimeout(timer);
      shutdown.abort(new Error("gateway shutting down"));
      await stopped;
      await reporter.close();
      await spendReporter?.close();
      await transcripts.idle();
    },
  };
}
