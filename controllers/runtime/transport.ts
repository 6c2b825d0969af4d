// Raw HTTP to the apiserver through client-node's auth and TLS handling.
//
// We use client-node only for what it does well (reading kubeconfig, in-cluster
// config, credentials, TLS dispatcher) and do the requests ourselves: the
// KubeClient needs paths built from a ResourceType (including the status
// subresource), and the informer needs a watch stream it fully controls.
import * as k8s from "@kubernetes/client-node";
import { AlreadyExistsError, ConflictError, NotFoundError } from "./types.ts";

/** Any apiserver error that is not one of the mapped classes in types.ts. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
}

/** Something that throttles outgoing requests (see ratelimit.ts TokenBucket). */
export interface RequestThrottle {
  wait(): Promise<void>;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  text(): Promise<string>;
  stream(): ReadableStream<Uint8Array> | undefined;
}

const http = new k8s.IsomorphicFetchHttpLibrary();

type Dispatcher = NonNullable<ReturnType<k8s.RequestContext["getDispatcher"]>>;

export class ApiTransport {
  // client-node builds a new connection pool (dispatcher) for every request;
  // we keep the first one so connections are reused and can be closed on stop.
  private dispatcher: Dispatcher | undefined;

  constructor(readonly kubeConfig: k8s.KubeConfig, private readonly throttle?: RequestThrottle) {}

  /** Closes pooled connections (call once the operator stops). */
  async close(): Promise<void> {
    const d = this.dispatcher;
    this.dispatcher = undefined;
    await d?.close().catch(() => {});
  }

  /** Sends a request and returns the response whatever its status. */
  async send(
    method: k8s.HttpMethod,
    path: string,
    opts: RequestOptions = {},
  ): Promise<RawResponse> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    if (this.throttle) await this.throttle.wait();
    const ctx = new k8s.RequestContext(url.toString(), method);
    ctx.setHeaderParam("Accept", "application/json");
    if (opts.body !== undefined) {
      ctx.setHeaderParam("Content-Type", opts.contentType ?? "application/json");
      ctx.setBody(JSON.stringify(opts.body));
    }
    if (opts.signal) ctx.setSignal(opts.signal);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    if (this.dispatcher) ctx.setDispatcher(this.dispatcher);
    else this.dispatcher = ctx.getDispatcher();
    const res = await http.send(ctx).toPromise();
    return {
      status: res.httpStatusCode,
      text: () => res.body.text(),
      stream: () =>
        (res.body as unknown as { stream(): ReadableStream<Uint8Array> | undefined }).stream(),
    };
  }

  /** Sends a request and returns the parsed JSON body; non-2xx statuses throw mapped errors. */
  async json<T>(method: k8s.HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return (text ? JSON.parse(text) : {}) as T;
    throw statusError(res.status, text, `${method} ${path}`);
  }
}

/** Maps an apiserver Status response to the error classes reconcilers catch. */
export function statusError(status: number, body: string, what: string): Error {
  let reason = "";
  let message = body;
  try {
    const parsed = JSON.parse(body);
    reason = parsed.reason ?? "";
    message = parsed.message ?? body;
  } catch { /* not a Status object */ }
  const text = `${what}: ${status} ${reason} ${message}`.trim();
  if (status === 404) return new NotFoundError(text);
  if (status === 409 && reason === "AlreadyExists") return new AlreadyExistsError(text);
  if (status === 409) return new ConflictError(text);
  return new ApiError(status, reason, text);
}
