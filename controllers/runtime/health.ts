// The operator's HTTP endpoints: /healthz (process alive), /readyz (informer
// caches synced) and /metrics (Prometheus text).
import type { Metrics } from "./metrics.ts";

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

export function serveHealth(addr: string, metrics: Metrics, isReady: () => boolean): HealthServer {
  const { hostname, port } = parseAddr(addr);
  const server = Deno.serve({ hostname, port, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/healthz":
        return new Response("ok\n");
      case "/readyz":
        return isReady()
          ? new Response("ok\n")
          : new Response("informer caches not synced\n", { status: 503 });
      case "/metrics":
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
