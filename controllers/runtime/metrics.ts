// The operator's metrics, rendered in the Prometheus text exposition format.
// Hand-written because the set is small and fixed; no client library needed.
import { CounterFamily, HistogramFamily } from "./metric_families.ts";

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  /** Read at scrape time from the work queue. */
  queueDepth: () => number = () => 0;
  /** Read at scrape time from the informers. */
  cachedObjects: () => number = () => 0;
  queueAdds = 0;
  queueRetries = 0;
  leader = 0;
  /** Further lines at scrape time: the controllers' own metrics. */
  extra: () => string[] = () => [];
  private reconcileDurations = new HistogramFamily(
    "kubetask_reconcile_duration_seconds",
    "Time spent in reconcile, by kind.",
    ["kind"],
    DURATION_BUCKETS,
  );
  private reconcileErrors = new CounterFamily(
    "kubetask_reconcile_errors_total",
    "Reconciles that failed, by kind.",
    ["kind"],
  );
  private watchRestarts = new CounterFamily(
    "kubetask_watch_restarts_total",
    "Watches restarted after an error or expiry.",
    ["resource"],
  );
  private reconcileConflicts = new CounterFamily(
    "kubetask_reconcile_conflicts_total",
    "Reconciles that met a stale resourceVersion and were requeued, by kind.",
    ["kind"],
  );
  private apiResponses = new CounterFamily(
    "kubetask_api_requests_total",
    "Requests this process sent to the apiserver, by method and HTTP status code.",
    ["method", "code"],
  );

  apiResponse(method: string, status: number): void {
    this.apiResponses.inc([method, String(status)]);
  }

  reconcileConflict(kind: string): void {
    this.reconcileConflicts.inc([kind]);
  }

  observeReconcile(kind: string, seconds: number): void {
    this.reconcileDurations.observe([kind], seconds);
  }

  reconcileError(kind: string): void {
    this.reconcileErrors.inc([kind]);
  }

  watchRestarted(resource: string): void {
    this.watchRestarts.inc([resource]);
  }

  /** Makes series with a label appear (at zero) before anything happened. */
  declareKind(kind: string): void {
    this.reconcileErrors.declare([kind]);
    this.reconcileConflicts.declare([kind]);
    this.reconcileDurations.declare([kind]);
  }

  declareResource(resource: string): void {
    this.watchRestarts.declare([resource]);
  }

  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family("kubetask_workqueue_depth", "gauge", "Keys waiting in the work queue.");
    out.push(`kubetask_workqueue_depth ${this.queueDepth()}`);
    family("kubetask_workqueue_adds_total", "counter", "Keys added to the work queue.");
    out.push(`kubetask_workqueue_adds_total ${this.queueAdds}`);
    family("kubetask_workqueue_retries_total", "counter", "Rate-limited re-queues after failures.");
    out.push(`kubetask_workqueue_retries_total ${this.queueRetries}`);

    out.push(...this.reconcileDurations.render());
    out.push(...this.reconcileErrors.render());
    out.push(...this.watchRestarts.render());
    out.push(...this.reconcileConflicts.render());
    out.push(...this.apiResponses.render());
    family("kubetask_cached_objects", "gauge", "Objects held in the informer caches.");
    out.push(`kubetask_cached_objects ${this.cachedObjects()}`);
    const memory = Deno.memoryUsage();
    family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out.push(`process_resident_memory_bytes ${memory.rss}`);
    family("kubetask_heap_used_bytes", "gauge", "JavaScript heap in use, in bytes.");
    out.push(`kubetask_heap_used_bytes ${memory.heapUsed}`);
    family("kubetask_leader", "gauge", "1 while this process holds the leader lease.");
    out.push(`kubetask_leader ${this.leader}`);
    out.push(...this.extra());
    return out.join("\n") + "\n";
  }
}
