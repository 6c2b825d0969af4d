// What an Agent with a modelProvider needs in its pod to reach the model
// gateway instead of holding a provider key: a projected ServiceAccount token
// for the gateway's audience (the kubelet rotates it; the gateway checks it
// with a TokenReview and follows pod -> Job -> Task -> Agent), the CA that
// signed the gateway's certificate (carried in the Task's own ConfigMap), and
// where to send the calls. The image's entrypoint turns these into the CLI's
// base URL and API key (agents/entrypoint).
import type { V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { Agent } from "../../api/v1alpha1/index.ts";
import type { Problem } from "./checks.ts";
import type { GatewayEgress } from "../egress/gateway.ts";

/** The operator's flags about the gateway. */
export interface GatewaySettings {
  /** The gateway's base URL as agent pods reach it, e.g. https://kubetask-gateway.kubetask-system.svc:8443 */
  url: string;
  /** PEM of the CA that signed the gateway's serving certificate. */
  caPem: string;
  /** The audience agent tokens are minted for; the gateway accepts only it. */
  audience: string;
  /** Lifetime of the projected token (the kubelet refreshes it at 80%; at least 600). */
  tokenExpirationSeconds: number;
  /** Where agent pods reach it, for the NetworkPolicy of Restricted Agents (egress/gateway.ts). */
  egress?: GatewayEgress;
}

export const DEFAULT_GATEWAY_AUDIENCE = "kubetask-gateway";
export const DEFAULT_GATEWAY_TOKEN_EXPIRATION_SECONDS = 600;
/** The kubelet refuses a projected token that lives shorter. */
export const MIN_GATEWAY_TOKEN_EXPIRATION_SECONDS = 600;

/** Where the token and the CA are mounted in the agent container. */
export const GATEWAY_DIR = "/var/run/secrets/kubetask.io/gateway";
/** The CA's key in the Task's ConfigMap. */
export const GATEWAY_CA_KEY = "gateway-ca.crt";
const GATEWAY_VOLUME = "kubetask-gateway";

/** The path prefix under which the gateway serves one provider. */
export function providerPath(provider: string): string {
  return `/p/${provider}`;
}

/** An Agent naming a provider needs an operator that knows the gateway. */
export function gatewayProblem(
  agent: Agent,
  gateway: GatewaySettings | undefined,
): Problem | undefined {
  if (!agent.spec.modelProvider || gateway) return undefined;
  return {
    reason: "GatewayNotConfigured",
    message: `Agent "${agent.metadata.name}" names modelProvider ` +
      `"${agent.spec.modelProvider}", but this operator runs without a model gateway ` +
      "(--gateway-url): install the gateway, or remove modelProvider and give the agent a key",
  };
}

/** The ConfigMap data the pod's gateway volume reads (the CA), if the Agent uses the gateway. */
export function gatewayConfigMapData(
  agent: Agent,
  gateway: GatewaySettings | undefined,
): Record<string, string> {
  return agent.spec.modelProvider && gateway ? { [GATEWAY_CA_KEY]: gateway.caPem } : {};
}

/** Env, volume and mount of the agent container; empty for an Agent without a provider. */
export function gatewayPodParts(
  agent: Agent,
  configMapName: string,
  gateway: GatewaySettings | undefined,
): { env: V1EnvVar[]; volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const provider = agent.spec.modelProvider;
  if (!provider || !gateway) return { env: [], volumes: [], mounts: [] };
  return {
    env: [
      {
        name: "KUBETASK_GATEWAY_URL",
        value: `${gateway.url.replace(/\/+$/, "")}${providerPath(provider)}`,
      },
      { name: "KUBETASK_GATEWAY_TOKEN_FILE", value: `${GATEWAY_DIR}/token` },
      { name: "KUBETASK_GATEWAY_CA_FILE", value: `${GATEWAY_DIR}/ca.crt` },
    ],
    volumes: [{
      name: GATEWAY_VOLUME,
      projected: {
        // Readable by the agent's non-root user; the token is worth nothing
        // outside this Task (the gateway refuses it once the Task ends).
        defaultMode: 0o444,
        sources: [
          {
            serviceAccountToken: {
              audience: gateway.audience,
              expirationSeconds: gateway.tokenExpirationSeconds,
              path: "token",
            },
          },
          { configMap: { name: configMapName, items: [{ key: GATEWAY_CA_KEY, path: "ca.crt" }] } },
        ],
      },
    }],
    mounts: [{ name: GATEWAY_VOLUME, mountPath: GATEWAY_DIR, readOnly: true }],
  };
}
