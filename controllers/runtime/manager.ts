// The controller manager: informers feed one shared work queue, workers
// dispatch keys to the controller of their kind.
//
// Usage (in-process, e.g. from an integration test):
//
//   import { startManager } from "../../controllers/runtime/manager.ts";
//   const mgr = await startManager({
//     controllers: [taskController],
//     namespaces: [ns],          // watch only these namespaces ([] or omitted = all)
//     leaderElection: false,     // run workers at once
//     metricsAddr: false,        // no HTTP server
//     now: () => fakeNow,        // clock handed to reconcilers (optional)
//   });
//   await mgr.ready;             // informer caches synced
//   ...
//   await mgr.stop();            // finish in-flight work, release lease, close everything
//
// Options not given fall back to: KUBECONFIG / in-cluster config,
// DEFAULT_WORKERS workers, a silent logger, the system clock.
//
// Reconcilers read from the informer caches (ctx.cache), write through the
// REST client (ctx.client) and read live only where named (ctx.live). Workers
// start once every cache has synced, so no reconcile sees a half-filled cache.
import { AccessProvider } from "./access.ts";
import { InformerCache, typeKey } from "./cache.ts";
import { DEFAULT_QUEUE_BURST, DEFAULT_QUEUE_QPS, DEFAULT_WORKERS } from "./defaults.ts";
import { KubeEventRecorder } from "./events.ts";
import { type HealthServer, serveHealth } from "./health.ts";
import { Informer } from "./informer.ts";
import { RestKubeClient } from "./kube.ts";
import { type LeaderElectionOptions, LeaderElector } from "./leader.ts";
import { OwnWrites, reconcileUnlessSuperseded } from "./own_writes.ts";
import { silentLogger, withFields } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { MetricsAuthorizer } from "./metrics_auth.ts";
import { selfSignedCertificate } from "./self_signed.ts";
import { DefaultControllerRateLimiter, TokenBucket } from "./ratelimit.ts";
import { ApiTransport } from "./transport.ts";
import {
  type CacheReader,
  ConflictError,
  type Controller,
  type EventRecorder,
  type IndexFunc,
  type KubeClient,
  type KubeObject,
  type Logger,
  type ReconcileContext,
  type Request,
  type ResourceType,
} from "./types.ts";
import { parseRequestKey, requestKey, WorkQueue } from "./workqueue.ts";

export interface ManagerOptions {
  controllers: Controller[];
  /** Namespaces to watch; empty or omitted = all namespaces. */
  namespaces?: string[];
  /** Concurrent reconciles across all controllers (default DEFAULT_WORKERS). */
  workers?: number;
  /** Lease-based leader election, or false to lead at once (default false in-process). */
  leaderElection?: LeaderElectionOptions | false;
  /** "host:port" for /healthz, /readyz, /metrics; false = no server (default false). */
  metricsAddr?: string | false;
  /**
   * HTTPS, and /metrics only for whom the apiserver authorizes (default true);
   * false: plain HTTP, open to anyone (development).
   */
  metricsSecure?: boolean;
  /** Folder with tls.crt and tls.key for HTTPS; absent: a self-signed certificate made at start. */
  metricsCertDir?: string;
  logger?: Logger;
  /** The clock reconcilers see as ctx.now (tests inject a fake one). */
  now?: () => Date;
  /** How to reach the apiserver; default: KUBECONFIG, ~/.kube/config or in-cluster. */
  access?: AccessProvider;
  /** Override the event recorder (tests). */
  events?: EventRecorder;
  /** Client-side request throttle; 0 or absent = none (the apiserver's APF decides). */
  apiQps?: number;
  apiBurst?: number;
  /** Work-queue retry limiter bucket (default DEFAULT_QUEUE_QPS / DEFAULT_QUEUE_BURST). */
  queueQps?: number;
  queueBurst?: number;
  /** Informer resync period (default 10 minutes; 0 = off). */
  resyncMs?: number;
  /** Called when the lease is lost while leading (main.ts exits the process). */
  onLeaderLost?: () => void;
}

export interface RunningManager {
  /** Resolves once every informer cache has synced. */
  ready: Promise<void>;
  /** Stops taking work, waits for in-flight reconciles, releases the lease, closes everything. */
  stop(): Promise<void>;
  /** The informer caches, as reconcilers read them. */
  cache: CacheReader;
  metrics: Metrics;
  /** The bound metrics address (when metricsAddr was set). */
  metricsAddr?: { hostname: string; port: number };
  isLeader(): boolean;
}

/** Keys a primary object maps to: the object itself. */
function selfRequest(kind: string, obj: KubeObject): Request {
  return { kind, namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" };
}

/** Starts informers, workers (once synced and leading) and the metrics server. */
export async function startManager(opts: ManagerOptions): Promise<RunningManager> {
  const tls = opts.metricsAddr && opts.metricsSecure !== false
    ? await metricsTls(opts.metricsCertDir)
    : undefined;
  return buildManager(opts, opts.access ?? await AccessProvider.load(), tls);
}

/** The metrics server's certificate: the given one, else a self-signed one. */
async function metricsTls(certDir?: string): Promise<{ cert: string; key: string }> {
  if (certDir) {
    return {
      cert: await Deno.readTextFile(`${certDir}/tls.crt`),
      key: await Deno.readTextFile(`${certDir}/tls.key`),
    };
  }
  return await selfSignedCertificate("kubetask-metrics", ["localhost", "127.0.0.1"]);
}

export interface InformerSpec {
  type: ResourceType;
  labelSelector?: string;
  fieldSelector?: string;
  transform?: (obj: KubeObject) => KubeObject;
  indexes?: Record<string, IndexFunc>;
}

/**
 * One informer per resource type, shared by every controller that reads it:
 * every reader must agree on what its cache holds (selectors and transform),
 * else this throws. Indexes are merged.
 */
export function informerSpecs(controllers: Controller[]): Map<string, InformerSpec> {
  const specs = new Map<string, InformerSpec>();
  const declare = (spec: InformerSpec) => {
    const key = typeKey(spec.type);
    const seen = specs.get(key);
    if (!seen) {
      specs.set(key, { ...spec, indexes: { ...spec.indexes } });
      return;
    }
    if (
      seen.labelSelector !== spec.labelSelector || seen.fieldSelector !== spec.fieldSelector ||
      seen.transform !== spec.transform
    ) {
      throw new Error(`${spec.type.plural} are watched with two different selectors or transforms`);
    }
    Object.assign(seen.indexes!, spec.indexes);
  };
  for (const c of controllers) {
    declare({ type: c.type, indexes: c.indexes, transform: c.transform });
    for (const source of c.watches) declare(source);
  }
  return specs;
}

function buildManager(
  opts: ManagerOptions,
  access: AccessProvider,
  metricsTls?: { cert: string; key: string },
): RunningManager {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? (() => new Date());
  const metrics = new Metrics();
  const { transport, restClient, recorder, events } = apiClients(opts, access, metrics, log, now);
  const queue = workQueue(opts, metrics);
  const byKind = controllersByKind(opts.controllers, metrics);
  const informers = createInformers(informerSpecs(opts.controllers), transport, opts, log, metrics);
  const cache = new InformerCache(informers);
  metrics.extra = () => opts.controllers.flatMap((c) => c.metrics?.render(cache) ?? []);
  // Our own status writes the cache may not show yet (own_writes.ts).
  const ownWrites = new OwnWrites();
  metrics.cachedObjects = () => [...informers.values()].reduce((n, i) => n + i.size(), 0);
  routeEvents(opts.controllers, informers, cache, queue);

  let synced = false;
  const health = serveMetrics(opts, metricsTls, transport, metrics, log, () => synced);

  for (const inf of informers.values()) inf.start();
  const ready = Promise.all([...informers.values()].map((i) => i.synced)).then(() => {
    synced = true;
    log.info("informer caches synced", { resources: [...informers.keys()] });
  });

  const reconcile = (key: string) =>
    reconcileKey(key, {
      byKind,
      queue,
      metrics,
      log,
      ownWrites,
      context: { cache, live: restClient, client: restClient, events, now },
    });
  const workers = new Workers(
    queue,
    reconcile,
    ready,
    Math.max(1, opts.workers ?? DEFAULT_WORKERS),
    log,
  );
  const { elector, leadership } = lead(opts, restClient, log, metrics, queue, workers);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      workers.requestStop();
      log.info("stopping manager");
      elector?.stop();
      await queue.drain();
      await workers.finished();
      await leadership;
      await elector?.release();
      metrics.leader = 0;
      await Promise.all([...informers.values()].map((i) => i.stop()));
      await recorder?.flush();
      await health?.shutdown();
      await transport.close();
      log.info("manager stopped");
    })();

  return {
    ready,
    stop,
    cache,
    metrics,
    metricsAddr: health?.addr,
    isLeader: () => elector ? elector.isLeader() : true,
  };
}

/** The transport (throttled if asked, counting responses), the REST client and the Event recorder. */
function apiClients(
  opts: ManagerOptions,
  access: AccessProvider,
  metrics: Metrics,
  log: Logger,
  now: () => Date,
) {
  const throttle = opts.apiQps
    ? new TokenBucket(opts.apiQps, opts.apiBurst ?? opts.apiQps)
    : undefined;
  const transport = new ApiTransport(
    access,
    throttle,
    (method, status) => metrics.apiResponse(method, status),
  );
  const restClient: KubeClient = new RestKubeClient(transport);
  const recorder = opts.events ? undefined : new KubeEventRecorder(restClient, log, now);
  const events = opts.events ?? recorder!;
  return { transport, restClient, recorder, events };
}

/** The one queue every controller's keys go through, with its retry limiter. */
function workQueue(opts: ManagerOptions, metrics: Metrics): WorkQueue {
  const queue = new WorkQueue({
    limiter: new DefaultControllerRateLimiter({
      qps: opts.queueQps ?? DEFAULT_QUEUE_QPS,
      burst: opts.queueBurst ?? DEFAULT_QUEUE_BURST,
    }),
    metrics: { added: () => metrics.queueAdds++, retried: () => metrics.queueRetries++ },
  });
  metrics.queueDepth = () => queue.len();
  return queue;
}

/** Each controller by the kind it reconciles; two for one kind is a programming error. */
function controllersByKind(controllers: Controller[], metrics: Metrics): Map<string, Controller> {
  const byKind = new Map<string, Controller>();
  for (const c of controllers) {
    if (byKind.has(c.kind)) throw new Error(`two controllers for kind ${c.kind}`);
    byKind.set(c.kind, c);
    metrics.declareKind(c.kind);
  }
  return byKind;
}

/** One informer per resource type, shared by every controller that reads it (not started). */
function createInformers(
  specs: Map<string, InformerSpec>,
  transport: ApiTransport,
  opts: ManagerOptions,
  log: Logger,
  metrics: Metrics,
): Map<string, Informer> {
  const informers = new Map<string, Informer>();
  for (const [key, spec] of specs) {
    informers.set(
      key,
      new Informer({
        transport,
        type: spec.type,
        labelSelector: spec.labelSelector,
        fieldSelector: spec.fieldSelector,
        transform: spec.transform,
        indexes: spec.indexes,
        namespaces: opts.namespaces,
        resyncMs: opts.resyncMs ?? 10 * 60_000,
        log,
        metrics,
      }),
    );
    metrics.declareResource(spec.type.plural);
  }
  return informers;
}

/** Turns informer events into queued keys: a primary itself, and what each watch maps to. */
function routeEvents(
  controllers: Controller[],
  informers: Map<string, Informer>,
  cache: CacheReader,
  queue: WorkQueue,
): void {
  const enqueue = (req: Request) => {
    if (req.name) queue.add(requestKey(req));
  };
  for (const c of controllers) {
    informers.get(typeKey(c.type))!.on((_type, obj) => enqueue(selfRequest(c.kind, obj)));
    for (const source of c.watches) {
      informers.get(typeKey(source.type))!.on((_type, obj, old) => {
        // Both old and new state may matter (e.g. an owner reference removed).
        for (const o of old && old !== obj ? [obj, old] : [obj]) {
          for (const req of source.map(o, cache)) enqueue(req);
        }
      });
    }
  }
}

/** /healthz, /readyz and /metrics, when an address is set. */
function serveMetrics(
  opts: ManagerOptions,
  metricsTls: { cert: string; key: string } | undefined,
  transport: ApiTransport,
  metrics: Metrics,
  log: Logger,
  isSynced: () => boolean,
): HealthServer | undefined {
  if (!opts.metricsAddr) return undefined;
  const authorizer = metricsTls ? new MetricsAuthorizer(transport, log) : undefined;
  const health = serveHealth(opts.metricsAddr, metrics, isSynced, {
    tls: metricsTls,
    authorize: authorizer && ((header) => authorizer.decide(header)),
  });
  log.info("serving health and metrics", {
    addr: `${health.addr.hostname}:${health.addr.port}`,
    scheme: metricsTls ? "https" : "http",
  });
  return health;
}

interface ReconcileDeps {
  byKind: Map<string, Controller>;
  queue: WorkQueue;
  metrics: Metrics;
  log: Logger;
  /** Our own status writes, checked before each reconcile and recorded during it. */
  ownWrites: OwnWrites;
  /** What every reconcile gets, less its own logger. */
  context: Omit<ReconcileContext, "log">;
}

/** Reconciles one key with its kind's controller; requeues as the result or the failure says. */
async function reconcileKey(key: string, deps: ReconcileDeps): Promise<void> {
  const { byKind, queue, metrics, log } = deps;
  const req = parseRequestKey(key);
  const controller = byKind.get(req.kind);
  if (!controller) {
    queue.forget(key);
    return;
  }
  const reqLog = withFields(log, { kind: req.kind, namespace: req.namespace, name: req.name });
  const ctx: ReconcileContext = { ...deps.context, log: reqLog };
  const started = performance.now();
  try {
    const result = await reconcileUnlessSuperseded(controller, req, ctx, deps.ownWrites);
    queue.forget(key);
    if (result?.requeueAfterMs !== undefined && result.requeueAfterMs >= 0) {
      queue.addAfter(key, result.requeueAfterMs);
    }
  } catch (err) {
    if (err instanceof ConflictError) {
      // Observed a stale copy: look again once the cache has caught up.
      metrics.reconcileConflict(req.kind);
      reqLog.debug("conflict, requeued", { error: err.message });
      queue.addRateLimited(key);
      return;
    }
    metrics.reconcileError(req.kind);
    reqLog.error("reconcile failed", { error: err, retries: queue.numRequeues(key) });
    queue.addRateLimited(key);
  } finally {
    metrics.observeReconcile(req.kind, (performance.now() - started) / 1000);
  }
}

/** The worker loops: started once the caches have synced (never, if stop came first). */
class Workers {
  private loops: Promise<void>[] = [];
  private started: Promise<void> = Promise.resolve();
  /** Set by requestStop(): no worker starts after it, and a lost lease is then no surprise. */
  stopping = false;
  private onStop!: () => void;
  private readonly stopRequested = new Promise<void>((resolve) => (this.onStop = resolve));

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconcile: (key: string) => Promise<void>,
    private readonly ready: Promise<void>,
    private readonly count: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.started = this.startWhenSynced();
  }

  requestStop(): void {
    this.stopping = true;
    this.onStop();
  }

  /** Resolves once the loops (if they started) have ended; the queue must be draining. */
  async finished(): Promise<void> {
    await this.started;
    await Promise.all(this.loops);
  }

  private async startWhenSynced(): Promise<void> {
    await Promise.race([this.ready, this.stopRequested]);
    if (this.stopping) return;
    this.log.info("starting workers", { workers: this.count });
    this.loops = Array.from({ length: this.count }, () => this.loop());
  }

  private async loop(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcile(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}

/**
 * Starts the workers at once, or, with leader election, once the lease is
 * ours; a lost lease shuts the queue down and tells opts.onLeaderLost.
 */
function lead(
  opts: ManagerOptions,
  client: KubeClient,
  log: Logger,
  metrics: Metrics,
  queue: WorkQueue,
  workers: Workers,
): { elector?: LeaderElector; leadership: Promise<void> } {
  if (!opts.leaderElection) {
    metrics.leader = 1;
    workers.start();
    return { leadership: Promise.resolve() };
  }
  const elector = new LeaderElector(client, opts.leaderElection, log);
  const leadership = (async () => {
    if (!(await elector.acquire())) return;
    metrics.leader = 1;
    workers.start(); // the lease is renewed meanwhile
    const outcome = await elector.holdLease();
    metrics.leader = 0;
    if (outcome === "lost" && !workers.stopping) {
      queue.shutDown(); // stop taking work at once; another replica now leads
      opts.onLeaderLost?.();
    }
  })();
  return { elector, leadership };
}
