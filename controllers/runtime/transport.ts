// Raw HTTP to the apiserver with credentials and TLS taken from client-node.
//
// client-node reads the kubeconfig (file, KUBECONFIG, in-cluster) and knows
// the auth plugins; we take the resulting CA, client certificate and headers
// from it and send requests with Deno's own fetch. Two reasons: the KubeClient
// needs paths built from a ResourceType (status subresource included), and
// the informer needs a watch stream that ends when the connection drops —
// client-node's undici transport under Deno keeps a watch body open forever
// after the apiserver dies, so an informer on top of it would stall silently.
import type * as k8s from "@kubernetes/client-node";
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

/**
 * Every request but a watch gets a deadline: a half-open connection must not
 * hang an informer's list or a worker's reconcile (or shutdown) forever.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

function withRequestTimeout(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
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

/** What client-node's applyToHTTPSOptions fills in. */
interface HttpsOptions {
  ca?: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
  headers?: Record<string, string>;
  auth?: string;
}

const decoder = new TextDecoder();
const asText = (
  b: Uint8Array | string | undefined,
) => (b === undefined || typeof b === "string" ? b : decoder.decode(b));

export class ApiTransport {
  private httpClient: Deno.HttpClient | undefined;

  constructor(readonly kubeConfig: k8s.KubeConfig, private readonly throttle?: RequestThrottle) {}

  /** Closes pooled connections (call once the operator stops). */
  close(): Promise<void> {
    this.httpClient?.close();
    this.httpClient = undefined;
    return Promise.resolve();
  }

  /** Sends a request and returns the response whatever its status. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const isWatch = !!opts.query?.watch;
    if (this.throttle) await this.throttle.wait();
    // Re-read per request: tokens from files and auth plugins rotate.
    const https: HttpsOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(
      https as Parameters<k8s.KubeConfig["applyToHTTPSOptions"]>[0],
    );
    const headers = new Headers({ Accept: "application/json" });
    for (const [k, v] of Object.entries(https.headers ?? {})) headers.set(k, String(v));
    if (https.auth) headers.set("Authorization", `Basic ${btoa(https.auth)}`);
    if (opts.body !== undefined) {
      headers.set("Content-Type", opts.contentType ?? "application/json");
    }
    // HTTP/1.1 only: Deno's HTTP/2 client aborts the whole process on a GOAWAY
    // racing open streams (seen when the apiserver restarts under live watches).
    this.httpClient ??= Deno.createHttpClient({
      http1: true,
      http2: false,
      caCerts: https.ca ? [asText(https.ca)!] : undefined,
      cert: asText(https.cert),
      key: asText(https.key),
    } as Deno.CreateHttpClientOptions);
    const res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: isWatch ? opts.signal : withRequestTimeout(opts.signal),
      client: this.httpClient,
    });
    return { status: res.status, text: () => res.text(), stream: () => res.body ?? undefined };
  }

  /** Sends a request and returns the parsed JSON body; non-2xx statuses throw mapped errors. */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
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
