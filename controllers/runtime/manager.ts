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
// Options not given fall back to: KUBECONFIG / in-cluster config, 4 workers,
// a silent logger, the system clock.
import * as k8s from "@kubernetes/client-node";
import { KubeEventRecorder } from "./events.ts";
import { type HealthServer, serveHealth } from "./health.ts";
import { Informer } from "./informer.ts";
import { RestKubeClient } from "./kube.ts";
import { type LeaderElectionOptions, LeaderElector } from "./leader.ts";
import { silentLogger, withFields } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { DefaultControllerRateLimiter, TokenBucket } from "./ratelimit.ts";
import type {
  Controller,
  EventRecorder,
  KubeClient,
  KubeObject,
  Logger,
  PrimaryCache,
  Request,
  ResourceType,
} from "./types.ts";
import { parseRequestKey, requestKey, WorkQueue } from "./workqueue.ts";

export interface ManagerOptions {
  controllers: Controller[];
  /** Namespaces to watch; empty or omitted = all namespaces. */
  namespaces?: string[];
  /** Concurrent reconciles across all controllers (default 4). */
  workers?: number;
  /** Lease-based leader election, or false to lead at once (default false in-process). */
  leaderElection?: LeaderElectionOptions | false;
  /** "host:port" for /healthz, /readyz, /metrics; false = no server (default false). */
  metricsAddr?: string | false;
  logger?: Logger;
  /** The clock reconcilers see as ctx.now (tests inject a fake one). */
  now?: () => Date;
  /** Defaults to loadFromDefault(): --kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeConfig?: k8s.KubeConfig;
  /** Override the API client (tests); informers still use kubeConfig. */
  client?: KubeClient;
  /** Override the event recorder (tests). */
  events?: EventRecorder;
  /** API request throttle (client side): default 50 qps, burst 100. */
  apiQps?: number;
  apiBurst?: number;
  /** Work-queue retry limiter bucket: default 10 qps, burst 100. */
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
  /** Read access to the informer cache of a type (undefined if nothing watches it). */
  cache(type: ResourceType): PrimaryCache | undefined;
  metrics: Metrics;
  /** The bound metrics address (when metricsAddr was set). */
  metricsAddr?: { hostname: string; port: number };
  isLeader(): boolean;
}

function typeKey(t: ResourceType): string {
  return `${t.apiVersion}/${t.plural}`;
}

/** Keys a primary object maps to: the object itself. */
function selfRequest(kind: string, obj: KubeObject): Request {
  return { kind, namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" };
}

/** Starts informers, workers (once leading) and the metrics server. */
export function startManager(opts: ManagerOptions): Promise<RunningManager> {
  try {
    return Promise.resolve(buildManager(opts));
  } catch (err) {
    return Promise.reject(err);
  }
}

function buildManager(opts: ManagerOptions): RunningManager {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? (() => new Date());
  const kubeConfig = opts.kubeConfig ?? (() => {
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    return kc;
  })();
  const metrics = new Metrics();
  const restClient = new RestKubeClient(
    kubeConfig,
    new TokenBucket(opts.apiQps ?? 50, opts.apiBurst ?? 100),
  );
  const client = opts.client ?? restClient;
  const events = opts.events ?? new KubeEventRecorder(client, log, now);
  const queue = new WorkQueue({
    limiter: new DefaultControllerRateLimiter({ qps: opts.queueQps, burst: opts.queueBurst }),
    metrics: { added: () => metrics.queueAdds++, retried: () => metrics.queueRetries++ },
  });
  metrics.queueDepth = () => queue.len();

  const byKind = new Map<string, Controller>();
  for (const c of opts.controllers) {
    if (byKind.has(c.kind)) throw new Error(`two controllers for kind ${c.kind}`);
    byKind.set(c.kind, c);
    metrics.declareKind(c.kind);
  }

  // One informer per resource type, shared by every controller that needs it.
  const informers = new Map<string, Informer>();
  const informerFor = (type: ResourceType, labelSelector?: string): Informer => {
    const key = labelSelector ? `${typeKey(type)}?${labelSelector}` : typeKey(type);
    let inf = informers.get(key);
    if (!inf) {
      inf = new Informer({
        transport: restClient.transport,
        type,
        labelSelector,
        namespaces: opts.namespaces,
        resyncMs: opts.resyncMs ?? 10 * 60_000,
        log,
        metrics,
      });
      informers.set(key, inf);
      metrics.declareResource(type.plural);
    }
    return inf;
  };
  const enqueue = (req: Request) => {
    if (req.name) queue.add(requestKey(req));
  };
  for (const c of opts.controllers) {
    const primary = informerFor(c.type);
    primary.on((_type, obj) => enqueue(selfRequest(c.kind, obj)));
    for (const source of c.watches) {
      informerFor(source.type, source.labelSelector).on((_type, obj, old) => {
        // Both old and new state may matter (e.g. an owner reference removed).
        for (const o of old && old !== obj ? [obj, old] : [obj]) {
          for (const req of source.map(o, primary)) enqueue(req);
        }
      });
    }
  }

  let health: HealthServer | undefined;
  let synced = false;
  if (opts.metricsAddr) {
    health = serveHealth(opts.metricsAddr, metrics, () => synced);
    log.info("serving health and metrics", { addr: `${health.addr.hostname}:${health.addr.port}` });
  }

  for (const inf of informers.values()) inf.start();
  const ready = Promise.all([...informers.values()].map((i) => i.synced)).then(() => {
    synced = true;
    log.info("informer caches synced", { resources: [...informers.keys()] });
  });

  // --- workers ---
  const processOne = async (key: string) => {
    const req = parseRequestKey(key);
    const controller = byKind.get(req.kind);
    if (!controller) {
      queue.forget(key);
      return;
    }
    const reqLog = withFields(log, { kind: req.kind, namespace: req.namespace, name: req.name });
    const started = performance.now();
    try {
      const result = await controller.reconcile(req, { client, events, now, log: reqLog });
      queue.forget(key);
      if (result?.requeueAfterMs !== undefined && result.requeueAfterMs >= 0) {
        queue.addAfter(key, result.requeueAfterMs);
      }
    } catch (err) {
      metrics.reconcileError(req.kind);
      reqLog.error("reconcile failed", { error: err, retries: queue.numRequeues(key) });
      queue.addRateLimited(key);
    } finally {
      metrics.observeReconcile(req.kind, (performance.now() - started) / 1000);
    }
  };
  const workerLoop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await processOne(key);
      } finally {
        queue.done(key);
      }
    }
  };
  let workers: Promise<void>[] = [];
  const startWorkers = () => {
    log.info("starting workers", { workers: opts.workers ?? 4 });
    workers = Array.from({ length: Math.max(1, opts.workers ?? 4) }, () => workerLoop());
  };

  // --- leadership ---
  let elector: LeaderElector | undefined;
  let leadership: Promise<void> = Promise.resolve();
  let stopping = false;
  if (opts.leaderElection) {
    elector = new LeaderElector(client, opts.leaderElection, log);
    const el = elector;
    leadership = (async () => {
      if (!(await el.acquire())) return;
      metrics.leader = 1;
      startWorkers();
      const outcome = await el.holdLease();
      metrics.leader = 0;
      if (outcome === "lost" && !stopping) {
        queue.shutDown(); // stop taking work at once; another replica now leads
        opts.onLeaderLost?.();
      }
    })();
  } else {
    metrics.leader = 1;
    startWorkers();
  }

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      stopping = true;
      log.info("stopping manager");
      elector?.stop();
      await queue.drain();
      await Promise.all(workers);
      await leadership;
      await elector?.release();
      metrics.leader = 0;
      await Promise.all([...informers.values()].map((i) => i.stop()));
      await health?.shutdown();
      await restClient.transport.close();
      log.info("manager stopped");
    })();

  return {
    ready,
    stop,
    cache: (type) => informers.get(typeKey(type)),
    metrics,
    metricsAddr: health?.addr,
    isLeader: () => elector ? elector.isLeader() : true,
  };
}
