// The gateway's metrics in the Prometheus text format (the families of
// controllers/runtime/metric_families.ts).
import { CounterFamily, HistogramFamily } from "../controllers/runtime/metric_families.ts";
import type { Tokens } from "./types.ts";

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export type RefusalReason = "unauthenticated" | "forbidden" | "budget" | "upstream_unreachable";

export class GatewayMetrics {
  private requests = new CounterFamily(
    "kubetask_gateway_requests_total",
    "Requests forwarded or refused, by namespace, Agent, provider and HTTP status code.",
    ["namespace", "agent", "provider", "code"],
  );
  private tokens = new CounterFamily(
    "kubetask_gateway_tokens_total",
    "Tokens metered, by namespace, Agent, model and type (input, output, cache_read, cache_write).",
    ["namespace", "agent", "model", "type"],
  );
  private cost = new CounterFamily(
    "kubetask_gateway_cost_usd_total",
    "Cost metered in USD, by namespace, Agent and model.",
    ["namespace", "agent", "model"],
  );
  private refused = new CounterFamily(
    "kubetask_gateway_refused_total",
    "Requests the gateway refused (or could not forward), by reason.",
    ["reason"],
  );
  private durations = new HistogramFamily(
    "kubetask_gateway_request_duration_seconds",
    "Time from a request's arrival to the end of its response.",
    [],
    DURATION_BUCKETS,
  );

  constructor() {
    for (const r of ["unauthenticated", "forbidden", "budget", "upstream_unreachable"]) {
      this.refused.declare([r]);
    }
    this.durations.declare([]);
  }

  request(namespace: string, agent: string, provider: string, code: number): void {
    this.requests.inc([namespace, agent, provider, String(code)]);
  }

  metered(namespace: string, agent: string, model: string, t: Tokens, costNano: number): void {
    this.tokens.inc([namespace, agent, model, "input"], t.input);
    this.tokens.inc([namespace, agent, model, "output"], t.output);
    this.tokens.inc([namespace, agent, model, "cache_read"], t.cacheRead);
    this.tokens.inc([namespace, agent, model, "cache_write"], t.cacheWrite);
    this.cost.inc([namespace, agent, model], costNano / 1e9);
  }

  refusal(reason: RefusalReason): void {
    this.refused.inc([reason]);
  }

  observeDuration(seconds: number): void {
    this.durations.observe([], seconds);
  }

  /** For tests: the value of one series. */
  tokensOf(namespace: string, agent: string, model: string, type: string): number {
    return this.tokens.get([namespace, agent, model, type]);
  }

  refusals(reason: RefusalReason): number {
    return this.refused.get([reason]);
  }

  render(): string {
    const memory = Deno.memoryUsage();
    return [
      ...this.requests.render(),
      ...this.tokens.render(),
      ...this.cost.render(),
      ...this.refused.render(),
      ...this.durations.render(),
      "# HELP process_resident_memory_bytes Resident memory size in bytes.",
      "# TYPE process_resident_memory_bytes gauge",
      `process_resident_memory_bytes ${memory.rss}`,
      "# HELP kubetask_heap_used_bytes JavaScript heap in use, in bytes.",
      "# TYPE kubetask_heap_used_bytes gauge",
      `kubetask_heap_used_bytes ${memory.heapUsed}`,
    ].join("\n") + "\n";
  }
}
