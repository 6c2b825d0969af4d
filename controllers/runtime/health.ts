// The operator's HTTP endpoints: /healthz (process alive), /readyz (informer
// caches synced) and /metrics (Prometheus text). Served over HTTPS with
// /metrics for authorized readers only (metrics_auth.ts); the probes stay open
// (they say nothing about tenants). Plain HTTP and open metrics are for
// development only (--metrics-secure=false).
import type { Metrics } from "./metrics.ts";
import { METRICS_PATH, type MetricsDecision } from "./metrics_auth.ts";

export interface HealthServing {
  /** Certificate and key (PEM) to serve HTTPS; absent: plain HTTP. */
  tls?: { cert: string; key: string };
  /** Who may read /metrics, from the Authorization header; absent: anyone. */
  authorize?: (authorization: string | null) => Promise<MetricsDecision>;
}

const REFUSALS: Record<Exclude<MetricsDecision, 200>, string> = {
  401: "Unauthorized: a bearer token is required\n",
  403: "Forbidden: get on /metrics is not allowed\n",
  500: "could not authorize the request\n",
};

export interface HealthServer {
  /** The address actually bound (useful with port 0). */
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}

/** Parses "host:port" or ":port" (all interfaces). */
export function parseAddr(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  if (i < 0) throw new Error(`address must be host:port, got ${addr}`);
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in ${addr}`);
  return { hostname: host || "0.0.0.0", port };
}

export function serveHealth(
  addr: string,
  metrics: Metrics,
  isReady: () => boolean,
  serving: HealthServing = {},
): HealthServer {
  const { hostname, port } = parseAddr(addr);
  const server = Deno.serve({ hostname, port, onListen: () => {}, ...serving.tls }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === METRICS_PATH && serving.authorize) {
      const decision = await serving.authorize(req.headers.get("authorization"));
      if (decision !== 200) {
        return new Response(REFUSALS[decision], {
          status: decision,
          headers: decision === 401 ? { "www-authenticate": 'Bearer realm="kubetask"' } : {},
        });
      }
    }
    switch (path) {
      case "/healthz":
        return new Response("ok\n");
      case "/readyz":
        return isReady()
          ? new Response("ok\n")
          : new Response("informer caches not synced\n", { status: 503 });
      case METRICS_PATH:
        return new Response(metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      default:
        return new Response("not found\n", { status: 404 });
    }
  });
  const bound = server.addr as Deno.NetAddr;
  return {
    addr: { hostname: bound.hostname, port: bound.port },
    shutdown: () => server.shutdown(),
  };
}
