// The Git credential proxy in the agent pod (gitproxy/, docs/git-proxy.md): a
// native sidecar (an init container that keeps running) from the operator's
// image, the only container that mounts Git credentials for https. The clone
// init containers of https Contexts and the agent container get only
// `insteadOf` variables pointing git at it on 127.0.0.1.
import type {
  V1Container,
  V1EnvVar,
  V1SecretProjection,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { Agent } from "../../api/v1alpha1/index.ts";
import type { PlannedEvent } from "../runtime/apply.ts";
import type { ResolvedContext } from "./contexts.ts";
import { HARDENED_SECURITY_CONTEXT } from "./security.ts";

/** Which image runs the sidecar, and how its executable is called there. */
export interface GitProxySettings {
  /** The operator's image (`--git-proxy-image`). */
  image: string;
  /** The image's executable: /kubetask in the Dockerfile's image (`--git-proxy-command`). */
  command: string[];
}

/** The image the installers ship (deploy/deployment.yaml; a unit test holds them equal). */
export const DEFAULT_GIT_PROXY_IMAGE = "quay.io/kubetask/kubetask-controller:v0.1.0";
export const DEFAULT_GIT_PROXY_COMMAND = ["/kubetask"];

export const GIT_PROXY_CONTAINER = "git-proxy";
/** On the pod's loopback only; the agent container shares the network namespace. */
export const GIT_PROXY_PORT = 7070;
const SECRET_DIR = "/kubetask/git-proxy";
const SECRET_VOLUME = "git-proxy-secret";

/**
 * The images' convention (agents/entrypoint): the token git pushes with, and
 * its user. An Agent credential giving one of these is moved to the proxy.
 */
export const GIT_TOKEN_ENV = "GIT_TOKEN";
export const GIT_USERNAME_ENV = "GIT_USERNAME";

/** Small: it only streams git's requests. Requests count towards the pod's. */
export const GIT_PROXY_RESOURCES = {
  requests: { cpu: "10m", memory: "64Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
};

export interface GitProxyPlan {
  /** The native sidecar; it goes before the clone init containers. */
  sidecar: V1Container;
  volumes: V1Volume[];
  /** GIT_CONFIG_* for the clone init containers of https Contexts and for the agent. */
  env: V1EnvVar[];
  /** Indices (in the Task's resolved contexts) of the https Git Contexts it serves. */
  proxied: Set<number>;
  /** Indices of the Agent's credentials that go to the proxy instead of the agent. */
  movedCredentials: Set<number>;
}

/** An https Git Context goes through the proxy; ssh ones are cloned as before. */
export function isProxiedRepository(repository: string): boolean {
  return repository.startsWith("https://");
}

/** The Agent's credentials that carry the Git token or its user (by the images' variables). */
export function gitTokenCredentials(agent: Agent): number[] {
  return (agent.spec.credentials ?? []).flatMap((c, i) =>
    c.env === GIT_TOKEN_ENV || c.env === GIT_USERNAME_ENV ? [i] : []
  );
}

/**
 * The proxy for a Task's https Git Contexts, or undefined when it has none (or
 * no proxy is configured). Each distinct repository URL is served at /<n>; its
 * credentials (a projected folder <n>/ with username and password) are the
 * first git.secretRef among its Contexts, else the Agent's GIT_TOKEN (and
 * GIT_USERNAME) credential, else none (fetches of a public repository).
 */
export function gitProxyPlan(
  agent: Agent,
  contexts: ResolvedContext[],
  settings: GitProxySettings | undefined,
): GitProxyPlan | undefined {
  if (!settings) return undefined;
  const repositories: string[] = [];
  const secretOf: (string | undefined)[] = [];
  const proxied = new Set<number>();
  contexts.forEach((ctx, i) => {
    if (ctx.kind !== "git" || !isProxiedRepository(ctx.git.repository)) return;
    proxied.add(i);
    let n = repositories.indexOf(ctx.git.repository);
    if (n < 0) n = repositories.push(ctx.git.repository) - 1;
    secretOf[n] ??= ctx.git.secretRef?.name;
  });
  if (!repositories.length) return undefined;

  const credentials = agent.spec.credentials ?? [];
  const moved = gitTokenCredentials(agent);
  const token = credentials.find((c) => c.env === GIT_TOKEN_ENV);
  const user = credentials.find((c) => c.env === GIT_USERNAME_ENV);
  const sources: V1SecretProjection[] = repositories.flatMap((_, n) => {
    const own = secretOf[n];
    if (own) {
      return [{
        name: own,
        items: [
          { key: "username", path: `${n}/username` },
          { key: "password", path: `${n}/password` },
        ],
        // A key the Secret lacks is simply absent (as the clone had it).
        optional: true,
      }];
    }
    return [token, user].flatMap((c) =>
      c
        ? [{
          name: c.secretRef.name,
          items: [{
            key: c.secretRef.key,
            path: `${n}/${c === token ? "password" : "username"}`,
          }],
        }]
        : []
    );
  });
  const mounts: V1VolumeMount[] = sources.length
    ? [{ name: SECRET_VOLUME, mountPath: SECRET_DIR, readOnly: true }]
    : [];
  const args = [
    "git-proxy",
    "--port",
    String(GIT_PROXY_PORT),
    "--secret-dir",
    SECRET_DIR,
    ...repositories.flatMap((r) => ["--repository", r]),
  ];
  const sidecar: V1Container = {
    name: GIT_PROXY_CONTAINER,
    image: settings.image,
    command: settings.command,
    args,
    // Native sidecar: runs beside the clones and the agent, ends with the pod.
    restartPolicy: "Always",
    // The next init container (the first clone) starts once this succeeds.
    startupProbe: {
      exec: {
        command: [...settings.command, "git-proxy", "probe", "--port", String(GIT_PROXY_PORT)],
      },
      periodSeconds: 1,
      timeoutSeconds: 10,
      failureThreshold: 120,
    },
    env: [
      // The image's CA bundle (a private Git host's CA is added to the image).
      { name: "DENO_TLS_CA_STORE", value: "system" },
    ],
    securityContext: {
      ...HARDENED_SECURITY_CONTEXT,
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
    },
    resources: GIT_PROXY_RESOURCES,
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: mounts,
  };
  const env: V1EnvVar[] = [
    { name: "GIT_CONFIG_COUNT", value: String(repositories.length) },
    ...repositories.flatMap((r, n) => [
      { name: `GIT_CONFIG_KEY_${n}`, value: `url.${proxyUrl(n)}.insteadOf` },
      { name: `GIT_CONFIG_VALUE_${n}`, value: r },
    ]),
  ];
  return {
    sidecar,
    volumes: sources.length
      ? [{
        name: SECRET_VOLUME,
        // Readable by the sidecar's non-root user; no other container mounts it.
        projected: { defaultMode: 0o444, sources: sources.map((secret) => ({ secret })) },
      }]
      : [],
    env,
    proxied,
    movedCredentials: new Set(moved),
  };
}

/** The proxy's URL of the n-th repository (gitproxy/routes.ts serves /<n>). */
export function proxyUrl(n: number): string {
  return `http://127.0.0.1:${GIT_PROXY_PORT}/${n}`;
}

/**
 * What the Task's Events say of the Agent's Git token: moved to the proxy, or
 * (no https Git Context to proxy) still in the agent container's environment.
 */
export function gitTokenEvent(
  agent: Agent,
  plan: GitProxyPlan | undefined,
  proxyConfigured: boolean,
): PlannedEvent | undefined {
  const names = gitTokenCredentials(agent)
    .map((i) => agent.spec.credentials![i].env).join(" and ");
  if (!names) return undefined;
  if (plan) {
    return {
      type: "Normal",
      reason: "GitTokenProxied",
      message: `the Agent's ${names} credential goes to the Git proxy sidecar, not the agent ` +
        `container: git reaches the Task's https repositories through 127.0.0.1:${GIT_PROXY_PORT}`,
    };
  }
  return {
    type: "Warning",
    reason: "GitTokenExposed",
    message: `the Agent's ${names} credential is in the agent container's environment, where ` +
      `any command it runs can read it: ${
        proxyConfigured
          ? "the Task has no https Git Context for the Git proxy to serve"
          : "the operator runs without the Git proxy"
      }`,
  };
}
