// Which headers cross the gateway: the client's credentials and hop-by-hop
// headers never reach the provider; the provider's key goes in the header its
// protocol reads.
import type { ProtocolName } from "./types.ts";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Credentials a client may send (its gateway token, in whichever header its CLI uses). */
const CLIENT_AUTH = [
  "x-api-key",
  "authorization",
  "x-goog-api-key",
  "x-kubetask-user-authorization",
];

/** Headers of the request we send upstream: the client's, minus credentials, hop-by-hop headers
 *  (and those its Connection header names), host and length, plus the provider's key. */
export function upstreamRequestHeaders(
  incoming: Headers,
  protocol: ProtocolName,
  key: string,
): Headers {
  const out = new Headers();
  const named = (incoming.get("connection") ?? "").toLowerCase().split(",").map((s) => s.trim());
  const drop = new Set([
    ...HOP_BY_HOP,
    ...CLIENT_AUTH,
    ...named,
    "host",
    "content-length",
    "cookie",
  ]);
  incoming.forEach((value, name) => {
    if (!drop.has(name.toLowerCase())) out.set(name, value);
  });
  // The gateway meters plain bytes: no compressed answers.
  out.set("accept-encoding", "identity");
  if (protocol === "anthropic-messages") out.set("x-api-key", key);
  else if (protocol === "gemini") out.set("x-goog-api-key", key);
  else out.set("authorization", `Bearer ${key}`);
  return out;
}

/** Headers of the upstream answer passed to the client: all (Retry-After, request ids, rate
 *  limit headers, x-should-retry) but hop-by-hop, length and encoding (the body is re-framed). */
export function clientResponseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  const named = (upstream.get("connection") ?? "").toLowerCase().split(",").map((s) => s.trim());
  const drop = new Set([
    ...HOP_BY_HOP,
    ...named,
    "content-length",
    "content-encoding",
    "set-cookie",
  ]);
  upstream.forEach((value, name) => {
    if (!drop.has(name.toLowerCase())) out.set(name, value);
  });
  return out;
}

/** The gateway token from the first header (or the `key` query parameter) that carries one. */
export function clientToken(headers: Headers, url: URL): string | undefined {
  const apiKey = headers.get("x-api-key")?.trim();
  if (apiKey) return apiKey;
  const auth = headers.get("authorization")?.trim();
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m) return m[1];
  }
  const goog = headers.get("x-goog-api-key")?.trim();
  if (goog) return goog;
  const q = url.searchParams.get("key")?.trim();
  return q || undefined;
}

/** The query string without the `key` parameter ("" or "?..."). */
export function queryWithoutKey(url: URL): string {
  const params = new URLSearchParams(url.search);
  params.delete("key");
  const s = params.toString();
  return s ? `?${s}` : "";
}
