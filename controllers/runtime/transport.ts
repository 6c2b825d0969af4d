// Raw HTTP to the apiserver with Deno's own fetch, authenticated with what
// access.ts resolved. Raw because the KubeClient needs paths built from a
// ResourceType (status subresource included), and the informer needs a watch
// stream that ends when the connection drops.
import type { AccessProvider, ClusterAccess } from "./access.ts";
import { AlreadyExistsError, ConflictError, NotFoundError } from "./types.ts";

/** Any apiserver error that is not one of the mapped classes in types.ts. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The apiserver's own message, without the request line. */
    readonly detail: string = message,
  ) {
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
  /** Extra request headers (never replacing the ones that authenticate us). */
  headers?: Record<string, string>;
}

export const USER_AGENT = "kubetask-operator";

export interface RawResponse {
  status: number;
  text(): Promise<string>;
  stream(): ReadableStream<Uint8Array> | undefined;
}

/** Called once per response (for the request counter on /metrics). */
export type ResponseObserver = (method: string, status: number) => void;

/** Times a request refused with 429 is sent again, honouring Retry-After. */
export const MAX_TOO_MANY_REQUESTS_RETRIES = 3;

/**
 * How long to wait after a 429. The apiserver sends whole seconds; anything else (absent, an
 * HTTP date) counts as one second, so a malformed header can never make the retry immediate.
 * Capped at 10 s: past that the request fails and the work queue's backoff takes over.
 */
export function retryAfterMs(header: string | null): number {
  const seconds = Number(header ?? "1");
  const valid = header !== null && header.trim() !== "" && Number.isFinite(seconds);
  return Math.min(Math.max(valid ? seconds : 1, 0.1), 10) * 1000;
}

function tlsIdentity(a: ClusterAccess): string {
  return `${a.caData ?? ""}\n${a.certData ?? ""}\n${a.keyData ?? ""}`;
}

export class ApiTransport {
  private httpClient: Deno.HttpClient | undefined;
  private httpClientTls = "";

  constructor(
    readonly access: AccessProvider,
    private readonly throttle?: RequestThrottle,
    private readonly observe?: ResponseObserver,
  ) {}

  /** Closes pooled connections (call once the operator stops). */
  close(): Promise<void> {
    this.httpClient?.close();
    this.httpClient = undefined;
    return Promise.resolve();
  }

  /** Sends a request and returns the response whatever its status. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    let unauthorizedRetried = false;
    for (let attempt = 0;; attempt++) {
      const res = await this.sendOnce(method, path, opts);
      if (res.status === 401 && !unauthorizedRetried) {
        unauthorizedRetried = true;
        if (await this.access.refreshAfterUnauthorized()) {
          await res.body?.cancel();
          continue;
        }
      }
      if (res.status === 429 && attempt < MAX_TOO_MANY_REQUESTS_RETRIES) {
        // API Priority and Fairness rejected it: the server says when to come back.
        const waitMs = retryAfterMs(res.headers.get("Retry-After"));
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, waitMs));
        continue;
      }
      return { status: res.status, text: () => res.text(), stream: () => res.body ?? undefined };
    }
  }

  private async sendOnce(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const access = await this.access.current();
    const url = new URL(access.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    // Watches and followed logs stream for as long as they last: no request timeout.
    const isWatch = !!opts.query?.watch || !!opts.query?.follow;
    if (this.throttle) await this.throttle.wait();
    const headers = new Headers({ Accept: "application/json", "User-Agent": USER_AGENT });
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers.set(k, v);
    for (const [k, v] of Object.entries(access.headers)) headers.set(k, v);
    if (opts.body !== undefined) {
      headers.set("Content-Type", opts.contentType ?? "application/json");
    }
    const res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: isWatch ? opts.signal : withRequestTimeout(opts.signal),
      client: this.clientFor(access),
    });
    this.observe?.(method, res.status);
    return res;
  }

  /** One pooled client per TLS identity (an exec plugin may rotate the client certificate). */
  private clientFor(access: ClusterAccess): Deno.HttpClient {
    const tls = tlsIdentity(access);
    if (this.httpClient && this.httpClientTls === tls) return this.httpClient;
    this.httpClient?.close();
    // HTTP/1.1 only: Deno's HTTP/2 client aborts the whole process on a GOAWAY
    // racing open streams (seen when the apiserver restarts under live watches).
    this.httpClient = Deno.createHttpClient({
      http1: true,
      http2: false,
      caCerts: access.caData ? [access.caData] : undefined,
      cert: access.certData,
      key: access.keyData,
    } as Deno.CreateHttpClientOptions);
    this.httpClientTls = tls;
    return this.httpClient;
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
  return new ApiError(status, reason, text, message);
}
