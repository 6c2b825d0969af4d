// The one executable: `kubetask operator` (parse flags, start the controller
// manager, shut down gracefully on SIGTERM/SIGINT: finish in-flight work,
// release the Lease), `kubetask gateway` (the model gateway, gateway/), the
// hidden `kubetask git-proxy` (an agent pod's Git credential proxy, gitproxy/), and the
// command line (cli/: run, logs, stop, list, describe, transcript).
import { parseConfig, USAGE } from "./controllers/config.ts";
import { createControllers } from "./controllers/registry.ts";
import { AccessProvider, RESOLVE_ACCESS_COMMAND } from "./controllers/runtime/access.ts";
import { RestKubeClient } from "./controllers/runtime/kube.ts";
import { ApiTransport } from "./controllers/runtime/transport.ts";
import { NotFoundError } from "./controllers/runtime/types.ts";
import { createLogger } from "./controllers/runtime/log.ts";
import { startManager } from "./controllers/runtime/manager.ts";
import { CLI_USAGE, cliMain, isCliCommand } from "./cli/main.ts";

const SHUTDOWN_TIMEOUT_MS = 25_000;
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** The Lease lives in our own namespace unless told otherwise. */
function defaultLeaseNamespace(): string {
  const fromEnv = Deno.env.get("POD_NAMESPACE");
  if (fromEnv) return fromEnv;
  try {
    return Deno.readTextFileSync(SERVICE_ACCOUNT_NAMESPACE).trim() || "default";
  } catch {
    return "default";
  }
}

/** Whether the apiserver serves Kueue's API (one discovery read at startup). */
async function kueueServed(access: AccessProvider): Promise<boolean> {
  const transport = new ApiTransport(access);
  try {
    await transport.json("GET", "/apis/kueue.x-k8s.io/v1beta2");
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  } finally {
    await transport.close();
  }
}

async function main(): Promise<number> {
  if (Deno.args[0] === RESOLVE_ACCESS_COMMAND) {
    // The shipped operator (compiled binary or bundle) running itself to resolve
    // credentials (access.ts).
    // A dynamic import, so client-node is loaded only in that subprocess.
    const { resolveAccessMain } = await import("./controllers/runtime/access_resolver.ts");
    return await resolveAccessMain(Deno.args.slice(1));
  }
  if (Deno.args[0] === "gateway") {
    // The model gateway (gateway/): loaded only for that subcommand.
    const { gatewayMain } = await import("./gateway/main.ts");
    return await gatewayMain(Deno.args.slice(1));
  }
  if (Deno.args[0] === "git-proxy") {
    // Hidden: the Git credential proxy an agent pod runs as a sidecar (gitproxy/).
    const { gitProxyMain } = await import("./gitproxy/main.ts");
    return await gitProxyMain(Deno.args.slice(1));
  }
  if (isCliCommand(Deno.args[0])) return await cliMain(Deno.args);
  // `kubetask operator [flags]` (the image's entrypoint); bare flags mean the same.
  const args = Deno.args[0] === "operator" ? Deno.args.slice(1) : Deno.args;
  if (args.includes("--help") || args.includes("-h")) {
    console.log(`${USAGE}\n\n${CLI_USAGE}`);
    return 0;
  }
  let config;
  try {
    config = parseConfig(args);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const log = createLogger({ level: config.logLevel });
  const access = await AccessProvider.load({ kubeconfig: config.kubeconfig });

  if (config.applyCrds) {
    // Loaded only when asked for: the CRD generator is not needed to reconcile.
    const { applyCrds, ourCrds } = await import("./controllers/crds.ts");
    const transport = new ApiTransport(access);
    await applyCrds(new RestKubeClient(transport), ourCrds(), log);
    await transport.close();
  }

  const kueue = config.kueue === "auto" ? await kueueServed(access) : config.kueue === "true";
  if (kueue) log.info("watching Kueue Workloads (kueue.x-k8s.io/v1beta2)");
  const controllers = createControllers({
    kueue,
    gitImage: config.gitImage,
    gitProxy: config.gitProxy,
    operatorServiceAccount: config.operatorServiceAccount,
    allowPrivilegedAgents: config.allowPrivilegedAgents,
    defaultEgress: config.defaultEgress,
    ...(config.gateway
      ? {
        gateway: {
          url: config.gateway.url,
          // Read once: agent pods get it in their Task's ConfigMap.
          caPem: await Deno.readTextFile(config.gateway.caFile),
          audience: config.gateway.audience,
          tokenExpirationSeconds: config.gateway.tokenExpirationSeconds,
          ...(config.gateway.egress ? { egress: config.gateway.egress } : {}),
        },
      }
      : {}),
  });
  const manager = await startManager({
    controllers,
    namespaces: config.namespaces,
    workers: config.workers,
    apiQps: config.qps,
    apiBurst: config.burst,
    queueQps: config.queueQps,
    queueBurst: config.queueBurst,
    leaderElection: config.leaderElect
      ? {
        namespace: config.leaderElectionNamespace ?? defaultLeaseNamespace(),
        name: config.leaderElectionId,
        ...config.leaderElectionTiming,
      }
      : false,
    metricsAddr: config.metricsAddr,
    metricsSecure: config.metricsSecure,
    metricsCertDir: config.metricsCertDir,
    logger: log,
    access,
    // Like controller-runtime: a replica that lost the lease exits and is restarted fresh.
    onLeaderLost: () => {
      log.error("leader lease lost, exiting");
      Deno.exit(1);
    },
  });
  log.info("operator started", {
    controllers: controllers.map((c) => c.kind),
    namespaces: config.namespaces.length ? config.namespaces : "all",
  });

  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: string) => () => {
      log.info("shutting down", { signal });
      resolve();
    };
    Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
    Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  });
  await stopped;
  // In-flight reconciles get a bounded time to finish; the kubelet's SIGKILL
  // comes after terminationGracePeriodSeconds (30 s) anyway.
  const deadline = new Promise<"timeout">((r) =>
    setTimeout(() => r("timeout"), SHUTDOWN_TIMEOUT_MS)
  );
  if (await Promise.race([manager.stop().then(() => "stopped" as const), deadline]) === "timeout") {
    log.error("shutdown did not finish in time, exiting", { timeoutMs: SHUTDOWN_TIMEOUT_MS });
    return 1;
  }
  return 0;
}

Deno.exit(await main());
