// @ts-check
// The model gateway, as the operator hands it to an agent pod (an Agent with
// a modelProvider): where to call (KUBETASK_GATEWAY_URL, the gateway's path
// for that provider), a projected ServiceAccount token the kubelet keeps
// fresh (KUBETASK_GATEWAY_TOKEN_FILE) and the CA of the gateway's certificate
// (KUBETASK_GATEWAY_CA_FILE). No provider key is in the pod: the token is the
// CLI's API key, good only for this Task while it runs.
import { readFileSync } from "node:fs";

/**
 * @typedef {object} GatewayAccess
 * @property {string} url the gateway's base URL for this Agent's provider
 * @property {string} tokenFile
 * @property {string} caFile
 */

/** The gateway the operator configured for this pod, or undefined. */
export function gatewayAccess(/** @type {NodeJS.ProcessEnv} */ env) {
  const url = env.KUBETASK_GATEWAY_URL;
  const tokenFile = env.KUBETASK_GATEWAY_TOKEN_FILE;
  const caFile = env.KUBETASK_GATEWAY_CA_FILE;
  if (!url || !tokenFile || !caFile) return undefined;
  return /** @type {GatewayAccess} */ ({ url: url.replace(/\/+$/, ""), tokenFile, caFile });
}

/** The token as it is now (CLIs that read their key once get this one). */
export function currentToken(/** @type {GatewayAccess} */ g) {
  return readFileSync(g.tokenFile, "utf8").trim();
}

/**
 * The environment a CLI runs with through the gateway: the adapter's
 * variables over the pod's, and the gateway's CA trusted by Node-based and
 * Bun-based CLIs alike. Provider keys an Agent still passes are dropped, so the
 * CLI cannot bypass the gateway with one.
 */
export function gatewayEnv(
  /** @type {NodeJS.ProcessEnv} */ env,
  /** @type {GatewayAccess} */ g,
  /** @type {Record<string, string>} */ own,
) {
  /** @type {NodeJS.ProcessEnv} */
  const out = { ...env };
  for (const key of PROVIDER_KEYS) delete out[key];
  return { ...out, NODE_EXTRA_CA_CERTS: g.caFile, ...own };
}

/** Provider key variables the shipped CLIs read. */
const PROVIDER_KEYS = [
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_AUTH_TOKEN",
  "OPENAI_API_KEY",
  "GEMINI_API_KEY",
  "GOOGLE_API_KEY",
];
