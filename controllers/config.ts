// The operator's command-line flags (with KUBETASK_* environment fallbacks):
// runtime knobs and the settings controllers take.
import { parseArgs } from "node:util";
import { isLogLevel, type LogLevel } from "./runtime/log.ts";
import { DEFAULT_GIT_IMAGE } from "./task/git.ts";
import {
  DEFAULT_GIT_PROXY_COMMAND,
  DEFAULT_GIT_PROXY_IMAGE,
  type GitProxySettings,
} from "./task/git_proxy.ts";
import { type EgressMode, egressMode } from "../api/v1alpha1/index.ts";
import { DEFAULT_EGRESS_MODE } from "./egress/mode.ts";
import { DEFAULT_QUEUE_BURST, DEFAULT_QUEUE_QPS, DEFAULT_WORKERS } from "./runtime/defaults.ts";
import {
  DEFAULT_GATEWAY_AUDIENCE,
  DEFAULT_GATEWAY_TOKEN_EXPIRATION_SECONDS,
  MIN_GATEWAY_TOKEN_EXPIRATION_SECONDS,
} from "./task/gateway.ts";
import { parseDuration } from "../api/v1alpha1/index.ts";
import type { GatewayEgress } from "./egress/gateway.ts";
import {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
} from "./runtime/leader.ts";

export interface OperatorConfig {
  kubeconfig?: string;
  namespaces: string[];
  workers: number;
  qps: number;
  burst: number;
  queueQps: number;
  queueBurst: number;
  leaderElect: boolean;
  gitImage: string;
  /** The Git credential proxy sidecar of agent pods with https Git contexts. */
  gitProxy: GitProxySettings;
  operatorServiceAccount?: string;
  allowPrivilegedAgents: boolean;
  /** Watch Kueue's Workloads: yes, no, or when the apiserver serves kueue.x-k8s.io/v1beta2. */
  kueue: "auto" | "true" | "false";
  /** Egress mode of Agents that set none, where the namespace's KubeTaskConfig sets none either. */
  defaultEgress: EgressMode;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  /** The Lease's timings: lease > renew deadline > retry period. */
  leaderElectionTiming: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  metricsAddr: string;
  /** HTTPS with /metrics authorized by the apiserver; false: plain HTTP, open (development). */
  metricsSecure: boolean;
  metricsCertDir?: string;
  logLevel: LogLevel;
  applyCrds: boolean;
  /** The model gateway as agent pods reach it; unset: Agents naming a modelProvider are refused. */
  gateway?: {
    url: string;
    caFile: string;
    audience: string;
    tokenExpirationSeconds: number;
    egress?: GatewayEgress;
  };
}

export const USAGE = `usage: main.ts [flags]
  --kubeconfig PATH                   kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)
  --namespaces a,b                    namespaces to watch (default: all)
  --workers N                         concurrent reconciles (default 16)
  --qps N / --burst N                 client-side API request limit (default 0 = none: the
                                      apiserver's Priority and Fairness decides; 429s are retried)
  --queue-qps N / --queue-burst N     bucket for retries after errors and conflicts (default 50 / 500)
  --git-image IMAGE                   image of the init container that clones Git contexts
                                      (default ${DEFAULT_GIT_IMAGE})
  --git-proxy-image IMAGE             image of the Git credential proxy sidecar: the operator's
                                      own (default ${DEFAULT_GIT_PROXY_IMAGE})
  --git-proxy-command PATH|JSON       its executable in that image (default ${
  DEFAULT_GIT_PROXY_COMMAND[0]
}),
                                      or a JSON array of strings (an image without /kubetask)
  --operator-service-account NS/NAME  the operator's own ServiceAccount: Agents naming it
                                      are refused (the Deployment sets it from the pod)
  --allow-privileged-agents           run Agents that set what Pod Security baseline forbids
                                      (privileged, added capabilities, ...); default: refused
  --kueue auto|true|false             watch Kueue's Workloads, for the status of Tasks whose
                                      Agent sets queueName (default auto: when the apiserver
                                      serves kueue.x-k8s.io/v1beta2 at startup)
  --default-egress MODE               Unrestricted or Restricted: egress of Agents that set no
                                      spec.egress.mode and whose namespace's KubeTaskConfig
                                      sets no defaultEgressMode (default Unrestricted)
  --leader-elect true|false           use a Lease so only one replica reconciles (default true)
  --leader-election-namespace NS      namespace of the Lease (default: own namespace or "default")
  --leader-election-id NAME           name of the Lease (default kubetask-controller-leader)
  --leader-election-lease-duration D  how long a Lease nobody renews lasts: a standby takes
                                      over a killed leader after it (default 15s)
  --leader-election-renew-deadline D  how long the leader keeps trying to renew before it
                                      stops leading and exits (default 10s)
  --leader-election-retry-period D    how often replicas try to take or renew it (default 2s)
  --metrics-addr HOST:PORT            /healthz, /readyz and /metrics (default :8443)
  --metrics-secure true|false         HTTPS, /metrics only for bearer tokens the apiserver
                                      authorizes for get on /metrics (default true);
                                      false: plain HTTP open to anyone, for development
  --metrics-cert-dir DIR              tls.crt and tls.key for HTTPS (default: self-signed)
  --log-level debug|info|warn|error   (default info)
  --apply-crds                        create or update the CRDs at startup
  --gateway-url URL                   the model gateway as agent pods reach it, e.g.
                                      https://kubetask-gateway.kubetask-system.svc:8443
                                      (unset: Agents naming a modelProvider are refused)
  --gateway-ca-file PATH              PEM of the CA that signed the gateway's certificate
                                      (required with --gateway-url)
  --gateway-audience NAME             audience of agent pods' gateway tokens
                                      (default ${DEFAULT_GATEWAY_AUDIENCE})
  --gateway-token-expiration DURATION lifetime of those tokens, at least 10m (default 10m;
                                      the kubelet refreshes them)
  --gateway-service NS/NAME           the gateway's Service: Restricted Agents with a
                                      modelProvider may reach its pods (the Helm chart sets it)
  --gateway-egress-cidr CIDR          instead: the gateway's address outside the pod network
                                      (the port is --gateway-url's)
Each flag may also be set as KUBETASK_<FLAG> (e.g. KUBETASK_NAMESPACES).`;

function envName(flag: string): string {
  return `KUBETASK_${flag.replace(/-/g, "_").toUpperCase()}`;
}

function parseBool(flag: string, value: string): boolean {
  if (["true", "1", "yes"].includes(value)) return true;
  if (["false", "0", "no"].includes(value)) return false;
  throw new Error(`--${flag} must be true or false, got ${value}`);
}

function parsePositive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`--${flag} must be a positive number, got ${value}`);
  }
  return n;
}

function parseNonNegative(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error(`--${flag} must be zero or a positive number, got ${value}`);
  }
  return n;
}

/** "namespace/name", both parts DNS names; empty means not set. */
function serviceAccountRef(
  value: string | undefined,
  flag = "--operator-service-account",
): string | undefined {
  if (!value) return undefined;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(value)) {
    throw new Error(`${flag} must be NAMESPACE/NAME, got ${value}`);
  }
  return value;
}

function parseEgressMode(value: string | undefined): EgressMode {
  if (value === undefined || value === "") return DEFAULT_EGRESS_MODE;
  const parsed = egressMode.safeParse(value);
  if (!parsed.success) {
    throw new Error(`--default-egress must be Unrestricted or Restricted, got ${value}`);
  }
  return parsed.data;
}

/** A path, or a JSON array of strings; unset: the Dockerfile image's /kubetask. */
function parseCommand(value: string | undefined): string[] {
  if (!value) return DEFAULT_GIT_PROXY_COMMAND;
  if (!value.startsWith("[")) return [value];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) || parsed.length === 0 ||
    !parsed.every((a) => typeof a === "string" && a !== "")
  ) {
    throw new Error(`--git-proxy-command must be a path or a JSON array of strings, got ${value}`);
  }
  return parsed;
}

/** Parses flags; throws an Error with a readable message on bad input. */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = Deno.env.get,
): OperatorConfig {
  const names = [
    "kubeconfig",
    "namespaces",
    "workers",
    "qps",
    "burst",
    "queue-qps",
    "queue-burst",
    "leader-elect",
    "git-image",
    "git-proxy-image",
    "git-proxy-command",
    "operator-service-account",
    "allow-privileged-agents",
    "kueue",
    "default-egress",
    "leader-election-namespace",
    "leader-election-id",
    "leader-election-lease-duration",
    "leader-election-renew-deadline",
    "leader-election-retry-period",
    "metrics-addr",
    "metrics-secure",
    "metrics-cert-dir",
    "log-level",
    "apply-crds",
    "gateway-url",
    "gateway-ca-file",
    "gateway-audience",
    "gateway-token-expiration",
    "gateway-service",
    "gateway-egress-cidr",
  ] as const;
  // Every flag is read as a string so "--leader-elect=false" and "--apply-crds" both work.
  const normalized = args.map((a) =>
    a === "--apply-crds" || a === "--allow-privileged-agents" ? `${a}=true` : a
  );
  const { values } = parseArgs({
    args: normalized,
    options: Object.fromEntries(names.map((n) => [n, { type: "string" as const }])),
    strict: true,
    allowPositionals: false,
  });
  const get = (flag: (typeof names)[number]): string | undefined =>
    (values as Record<string, string | undefined>)[flag] ?? env(envName(flag));

  const logLevel = get("log-level") ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new Error(`--log-level must be debug, info, warn or error, got ${logLevel}`);
  }
  return {
    kubeconfig: get("kubeconfig"),
    namespaces: (get("namespaces") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    workers: Math.floor(parsePositive("workers", get("workers") ?? String(DEFAULT_WORKERS))),
    qps: parseNonNegative("qps", get("qps") ?? "0"),
    burst: Math.floor(parseNonNegative("burst", get("burst") ?? "0")),
    queueQps: parsePositive("queue-qps", get("queue-qps") ?? String(DEFAULT_QUEUE_QPS)),
    queueBurst: Math.floor(
      parsePositive("queue-burst", get("queue-burst") ?? String(DEFAULT_QUEUE_BURST)),
    ),
    gitImage: get("git-image") || DEFAULT_GIT_IMAGE,
    gitProxy: {
      image: get("git-proxy-image") || DEFAULT_GIT_PROXY_IMAGE,
      command: parseCommand(get("git-proxy-command")),
    },
    operatorServiceAccount: serviceAccountRef(get("operator-service-account")),
    allowPrivilegedAgents: parseBool(
      "allow-privileged-agents",
      get("allow-privileged-agents") ?? "false",
    ),
    kueue: parseKueue(get("kueue") ?? "auto"),
    defaultEgress: parseEgressMode(get("default-egress")),
    leaderElect: parseBool("leader-elect", get("leader-elect") ?? "true"),
    leaderElectionNamespace: get("leader-election-namespace"),
    leaderElectionId: get("leader-election-id") ?? "kubetask-controller-leader",
    leaderElectionTiming: leaderElectionTiming(get),
    metricsAddr: get("metrics-addr") ?? ":8443",
    metricsSecure: parseBool("metrics-secure", get("metrics-secure") ?? "true"),
    metricsCertDir: get("metrics-cert-dir") || undefined,
    logLevel,
    applyCrds: parseBool("apply-crds", get("apply-crds") ?? "false"),
    ...gatewayFlags(get),
  };
}

type LeaseFlag =
  | "leader-election-lease-duration"
  | "leader-election-renew-deadline"
  | "leader-election-retry-period";

function leaderElectionTiming(
  get: (flag: LeaseFlag) => string | undefined,
): OperatorConfig["leaderElectionTiming"] {
  const read = (flag: LeaseFlag, defaultMs: number): number => {
    const value = get(flag);
    if (value === undefined || value === "") return defaultMs;
    const ms = parseDuration(value);
    if (!(ms > 0)) {
      throw new Error(
        `--${flag} must be a duration such as 15s or 1m, greater than zero, got ${value}`,
      );
    }
    return ms;
  };
  const timing = {
    leaseDurationMs: read("leader-election-lease-duration", DEFAULT_LEASE_DURATION_MS),
    renewDeadlineMs: read("leader-election-renew-deadline", DEFAULT_RENEW_DEADLINE_MS),
    retryPeriodMs: read("leader-election-retry-period", DEFAULT_RETRY_PERIOD_MS),
  };
  if (
    !(timing.leaseDurationMs > timing.renewDeadlineMs &&
      timing.renewDeadlineMs > timing.retryPeriodMs)
  ) {
    const s = (ms: number) => `${ms / 1000}s`;
    throw new Error(
      `--leader-election-lease-duration (${s(timing.leaseDurationMs)}) must be longer than ` +
        `--leader-election-renew-deadline (${s(timing.renewDeadlineMs)}), and that longer than ` +
        `--leader-election-retry-period (${s(timing.retryPeriodMs)}): a leader must give up ` +
        `before its Lease can expire, and retry before it gives up`,
    );
  }
  return timing;
}

type GatewayFlag =
  | "gateway-url"
  | "gateway-ca-file"
  | "gateway-audience"
  | "gateway-token-expiration"
  | "gateway-service"
  | "gateway-egress-cidr";

function gatewayFlags(
  get: (flag: GatewayFlag) => string | undefined,
): Pick<OperatorConfig, "gateway"> {
  const url = get("gateway-url");
  if (!url) return {};
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--gateway-url must be an https:// URL, got ${url}`);
  }
  if (parsed.protocol !== "https:" || parsed.search || parsed.hash || parsed.username) {
    throw new Error(
      `--gateway-url must be an https:// URL without user, query or fragment, got ${url}`,
    );
  }
  const caFile = get("gateway-ca-file");
  if (!caFile) throw new Error("--gateway-url needs --gateway-ca-file (the CA agent pods trust)");
  const expiration = get("gateway-token-expiration");
  const seconds = expiration === undefined
    ? DEFAULT_GATEWAY_TOKEN_EXPIRATION_SECONDS
    : parseDuration(expiration) / 1000;
  if (!(seconds >= MIN_GATEWAY_TOKEN_EXPIRATION_SECONDS)) {
    throw new Error(
      `--gateway-token-expiration must be a duration of at least 10m (the kubelet's minimum), got ${expiration}`,
    );
  }
  const service = get("gateway-service");
  const cidr = get("gateway-egress-cidr");
  if (service && cidr) throw new Error("set one of --gateway-service and --gateway-egress-cidr");
  let egress: GatewayEgress | undefined;
  if (service) {
    const ref = serviceAccountRef(service, "--gateway-service");
    const [namespace, name] = ref!.split("/");
    egress = { service: { namespace, name } };
  } else if (cidr) {
    if (!/^[0-9a-fA-F.:]+\/[0-9]{1,3}$/.test(cidr)) {
      throw new Error(`--gateway-egress-cidr must be a CIDR such as 10.0.0.5/32, got ${cidr}`);
    }
    egress = { cidr, port: Number(parsed.port || 443) };
  }
  return {
    gateway: {
      ...(egress ? { egress } : {}),
      url: url.replace(/\/+$/, ""),
      caFile,
      audience: get("gateway-audience") || DEFAULT_GATEWAY_AUDIENCE,
      tokenExpirationSeconds: Math.floor(seconds),
    },
  };
}

function parseKueue(value: string): "auto" | "true" | "false" {
  if (value === "auto" || value === "true" || value === "false") return value;
  throw new Error(`--kueue must be auto, true or false, got ${value}`);
}
