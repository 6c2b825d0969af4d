// `kubetask gateway [flags]`: the model gateway as a process. Flags (with
// KUBETASK_GATEWAY_* environment fallbacks) -> the apiserver connection ->
// the identity chain, provider catalog and Task writes (the glue) -> the
// server (server.ts). SIGTERM/SIGINT: stop taking requests, let streams
// finish for a bounded time, flush usage, exit.
import { parseArgs } from "node:util";
import { AccessProvider } from "../controllers/runtime/access.ts";
import { RestKubeClient } from "../controllers/runtime/kube.ts";
import { ApiTransport } from "../controllers/runtime/transport.ts";
import { createLogger, isLogLevel } from "../controllers/runtime/log.ts";
import { parseAddr } from "../controllers/runtime/health.ts";
import { MetricsAuthorizer } from "../controllers/runtime/metrics_auth.ts";
import { parseDuration } from "../api/v1alpha1/index.ts";
import { DEFAULT_GATEWAY_AUDIENCE } from "../controllers/task/gateway.ts";
import { AgentIdentities } from "./identity.ts";
import { ApiProviderCatalog } from "./providers.ts";
import { ApiSpendWriter } from "./namespace_budgets.ts";
import { ApiTaskStatusWriter, readerAuthorizer, taskExistence, taskResolver } from "./tasks.ts";
import { type Gateway, type GatewayOptions, startGateway } from "./server.ts";
import type { Logger } from "../controllers/runtime/types.ts";

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export const GATEWAY_USAGE = `usage: kubetask gateway [flags]
  --kubeconfig PATH                     kubeconfig (default: KUBECONFIG, ~/.kube/config or in-cluster)
  --listen-addr HOST:PORT               HTTPS for agents, transcripts, probes, /metrics (default :8443)
  --tls-cert-file / --tls-key-file PEM  the serving certificate (required unless --insecure-http)
  --insecure-http                       plain HTTP, for development only
  --audience NAME                       audience agent tokens must carry (default ${DEFAULT_GATEWAY_AUDIENCE})
  --namespace NS                        own namespace, where provider Secrets live (default: the pod's)
  --transcript-dir DIR                  (default /var/lib/kubetask-gateway/transcripts)
  --transcript-retention DURATION       (default 168h)
  --transcript-max-bytes-per-task N     (default 67108864)
  --usage-flush-interval DURATION       how often each Task's status.usage and each NamespaceBudget's spend are written (default 2s)
  --log-level debug|info|warn|error     (default info)
Each flag may also be set as KUBETASK_GATEWAY_<FLAG> (e.g. KUBETASK_GATEWAY_AUDIENCE).`;

const FLAGS = [
  "kubeconfig",
  "listen-addr",
  "tls-cert-file",
  "tls-key-file",
  "insecure-http",
  "audience",
  "namespace",
  "transcript-dir",
  "transcript-retention",
  "transcript-max-bytes-per-task",
  "usage-flush-interval",
  "log-level",
] as const;
type Flag = (typeof FLAGS)[number];

export interface GatewayConfig {
  kubeconfig?: string;
  listen: { hostname: string; port: number };
  tls?: { certFile: string; keyFile: string };
  audience: string;
  namespace?: string;
  transcriptDir: string;
  transcriptRetentionMs: number;
  transcriptMaxBytesPerTask: number;
  usageFlushIntervalMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
}

function durationMs(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (!(ms > 0)) {
    throw new Error(`--${flag} must be a duration such as 2s, 30m or 168h, got ${value}`);
  }
  return ms;
}

export function parseGatewayConfig(
  args: string[],
  env: (name: string) => string | undefined = Deno.env.get,
): GatewayConfig {
  const normalized = args.map((a) => a === "--insecure-http" ? `${a}=true` : a);
  const { values } = parseArgs({
    args: normalized,
    options: Object.fromEntries(FLAGS.map((f) => [f, { type: "string" as const }])),
    strict: true,
    allowPositionals: false,
  });
  const get = (flag: Flag): string | undefined =>
    (values as Record<string, string | undefined>)[flag] ??
      env(`KUBETASK_GATEWAY_${flag.replace(/-/g, "_").toUpperCase()}`);
  const insecure = ["true", "1", "yes"].includes(get("insecure-http") ?? "");
  const certFile = get("tls-cert-file");
  const keyFile = get("tls-key-file");
  if (!insecure && (!certFile || !keyFile)) {
    throw new Error("--tls-cert-file and --tls-key-file are required (or --insecure-http)");
  }
  const logLevel = get("log-level") ?? "info";
  if (!isLogLevel(logLevel)) throw new Error(`--log-level must be debug, info, warn or error`);
  const maxBytes = Number(get("transcript-max-bytes-per-task") ?? 64 * 1024 * 1024);
  if (!Number.isInteger(maxBytes) || maxBytes < 4096) {
    throw new Error(
      "--transcript-max-bytes-per-task must be a whole number of bytes, at least 4096",
    );
  }
  return {
    kubeconfig: get("kubeconfig"),
    listen: parseAddr(get("listen-addr") ?? ":8443"),
    ...(insecure ? {} : { tls: { certFile: certFile!, keyFile: keyFile! } }),
    audience: get("audience") || DEFAULT_GATEWAY_AUDIENCE,
    namespace: get("namespace"),
    transcriptDir: get("transcript-dir") ?? "/var/lib/kubetask-gateway/transcripts",
    transcriptRetentionMs: durationMs(
      "transcript-retention",
      get("transcript-retention") ?? "168h",
    ),
    transcriptMaxBytesPerTask: maxBytes,
    usageFlushIntervalMs: durationMs("usage-flush-interval", get("usage-flush-interval") ?? "2s"),
    logLevel,
  };
}

function ownNamespace(configured: string | undefined): string {
  if (configured) return configured;
  const fromEnv = Deno.env.get("POD_NAMESPACE");
  if (fromEnv) return fromEnv;
  try {
    return Deno.readTextFileSync(SERVICE_ACCOUNT_NAMESPACE).trim();
  } catch {
    throw new Error("--namespace is required outside a pod (where provider Secrets live)");
  }
}

/** The server's own settings: where it listens, its certificate, transcripts, flushes. */
export type ServerSettings = Omit<
  GatewayOptions,
  | "identify"
  | "usageWriter"
  | "authorizeReader"
  | "resolveTask"
  | "taskExists"
  | "ready"
  | "authorizeMetrics"
  | "logger"
>;

/** The gateway wired to an apiserver: what the subcommand runs, and the tests too. */
export async function startGatewayOnApi(opts: {
  transport: ApiTransport;
  /** Own namespace: where provider Secrets live. */
  namespace: string;
  audience: string;
  log: Logger;
  server: ServerSettings;
}): Promise<Gateway> {
  const { transport, log } = opts;
  const client = new RestKubeClient(transport);
  const identities = new AgentIdentities({
    transport,
    client,
    providers: new ApiProviderCatalog(client, opts.namespace),
    audience: opts.audience,
    log,
  });
  const metricsAuth = new MetricsAuthorizer(transport, log);
  return await startGateway({
    ...opts.server,
    identify: (token, provider) => identities.identify(token, provider),
    usageWriter: new ApiTaskStatusWriter(transport),
    spendWriter: new ApiSpendWriter(transport, client),
    authorizeReader: readerAuthorizer(transport),
    resolveTask: taskResolver(client),
    taskExists: taskExistence(client),
    // Nothing to sync: every answer is asked of the apiserver when needed.
    ready: () => true,
    authorizeMetrics: (authorization) => metricsAuth.decide(authorization),
    logger: log,
  });
}

export async function gatewayMain(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(GATEWAY_USAGE);
    return 0;
  }
  let config: GatewayConfig;
  let namespace: string;
  try {
    config = parseGatewayConfig(args);
    namespace = ownNamespace(config.namespace);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${GATEWAY_USAGE}`);
    return 2;
  }
  const log = createLogger({ level: config.logLevel, fields: { component: "gateway" } });
  const access = await AccessProvider.load({ kubeconfig: config.kubeconfig });
  const transport = new ApiTransport(access);
  const gateway = await startGatewayOnApi({
    transport,
    namespace,
    audience: config.audience,
    log,
    server: {
      hostname: config.listen.hostname,
      port: config.listen.port,
      ...(config.tls
        ? {
          tls: {
            cert: await Deno.readTextFile(config.tls.certFile),
            key: await Deno.readTextFile(config.tls.keyFile),
          },
        }
        : {}),
      transcriptDir: config.transcriptDir,
      transcriptMaxBytesPerTask: config.transcriptMaxBytesPerTask,
      transcriptRetentionMs: config.transcriptRetentionMs,
      usageFlushIntervalMs: config.usageFlushIntervalMs,
    },
  });
  log.info("gateway started", { url: gateway.url, namespace, audience: config.audience });
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, () => {
        log.info("shutting down", { signal });
        resolve();
      });
    }
  });
  await gateway.close();
  await transport.close();
  return 0;
}
