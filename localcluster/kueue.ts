// The real Kueue (sigs.k8s.io/kueue) in the local control plane, when asked
// (`cluster up NAME --kueue`, UpOptions.kueue): its manager built from the Go
// module at the pinned version, run out of cluster with the admin kubeconfig,
// its CRDs applied from the module's source, its webhooks served to our
// apiserver over loopback.
//
// Certificates: Kueue's internal certificate management is off (it would sign
// for a Service name our apiserver never dials). Its webhook server uses a
// certificate of the cluster CA for 127.0.0.1, and the webhook configurations
// point at https://127.0.0.1:PORT with that CA. With its certificate
// management off Kueue insists on a metrics certificate at the fixed path
// /etc/kueue/metrics/certs (even with metrics off): it runs in its own mount
// namespace where /etc is an overlay of the real /etc and a tmpfs holding that
// one folder, so nothing outside the cluster's folder is written.
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ensureKueue, kueueCrds, kueueWebhookManifests } from "./binaries.ts";
import { type Pki, signCertificate } from "./pki.ts";
import { makePrivateDir } from "./private_files.ts";
import {
  execedAs,
  freePort,
  kubectl,
  type StartedProcess,
  startProcess,
  waitFor,
} from "./process.ts";

export const KUEUE_COMPONENT = "kueue";
export const KUEUE_NAMESPACE = "kueue-system";

/**
 * Kueue's client to our apiserver (its Configuration's clientConnection). Kueue's
 * defaults, 20 requests a second with bursts of 30, are one bound on how fast a
 * burst of Jobs is admitted; the kueue benchmark measures them against others.
 */
export interface KueueOptions {
  clientQps?: number;
  clientBurst?: number;
}

/** What a cluster with Kueue records of it. */
export interface KueueState {
  /** https://127.0.0.1:PORT: Kueue's webhook server. */
  webhookUrl: string;
  /** http://127.0.0.1:PORT: its health probes (/readyz, /healthz). */
  healthUrl: string;
  /** Its configuration file. */
  config: string;
  /** Its client's limits when not Kueue's defaults. */
  client?: KueueOptions;
}

interface Cluster {
  dir: string;
  kubeconfig: string;
  kubectl: string;
  commands: Record<string, { binary: string; args: string[] }>;
  processes: Record<string, StartedProcess>;
}

/**
 * Kueue's Configuration: the batch/job integration alone, only Jobs that name
 * a LocalQueue (manageJobsWithoutQueueName: false), no leader election (one
 * replica), no internal certificates, no visibility API server (it would need
 * an APIService and delegated authentication), metrics off.
 */
export function kueueConfigYaml(
  o: { webhookPort: number; healthPort: number; certDir: string } & KueueOptions,
) {
  const client = [
    ...(o.clientQps !== undefined ? [`  qps: ${positive(o.clientQps, "qps")}`] : []),
    ...(o.clientBurst !== undefined ? [`  burst: ${positive(o.clientBurst, "burst")}`] : []),
  ];
  return `apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: ${KUEUE_NAMESPACE}
manageJobsWithoutQueueName: false
health:
  healthProbeBindAddress: 127.0.0.1:${o.healthPort}
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: ${o.webhookPort}
  certDir: ${o.certDir}
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
integrations:
  frameworks:
  - batch/job
featureGates:
  VisibilityOnDemand: false
${client.length ? `clientConnection:\n${client.join("\n")}\n` : ""}`;
}

function positive(n: number, what: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new Error(`Kueue client ${what} must be > 0, got ${n}`);
  return n;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Whether a webhook of Kueue's manifests is one this configuration serves (its own kinds, Jobs). */
function served(webhook: Json): boolean {
  const path: string = webhook?.clientConfig?.service?.path ?? "";
  return /-kueue-x-k8s-io-v1beta2-/.test(path) || /-batch-v1-job$/.test(path);
}

/**
 * Kueue's webhook configurations with only the webhooks it serves here, each
 * pointed at `url` + its path and trusting `caPem` (the cluster CA).
 */
export function kueueWebhookConfigurations(manifests: string, url: string, caPem: string): Json[] {
  const caBundle = btoa(caPem);
  return parseAllDocuments(manifests)
    .map((d) => d.toJSON())
    .filter((doc: Json) => doc?.kind?.endsWith("WebhookConfiguration"))
    .map((doc: Json) => ({
      apiVersion: doc.apiVersion,
      kind: doc.kind,
      metadata: {
        name: doc.kind === "MutatingWebhookConfiguration"
          ? "kueue-mutating-webhook-configuration"
          : "kueue-validating-webhook-configuration",
      },
      webhooks: (doc.webhooks ?? []).filter(served).map((w: Json) => {
        const { service, ...rest } = w.clientConfig;
        return { ...w, clientConfig: { ...rest, url: `${url}${service.path}`, caBundle } };
      }),
    }));
}

/** The mount-namespace wrapper: /etc overlaid with Kueue's metrics certificate, then exec. */
const WRAPPER = `set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0700 tmpfs "$1"
mkdir -p "$1/upper/kueue/metrics/certs" "$1/work"
cp "$2/tls.crt" "$2/tls.key" "$1/upper/kueue/metrics/certs/"
mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/upper",workdir="$1/work" /etc
shift 2
exec "$@"`;

/**
 * Starts Kueue against the running cluster and waits until it is ready and
 * its webhooks are registered. Recorded in `cluster.processes` (so `down`
 * stops it, before the apiserver) under "kueue".
 */
export async function startKueue(
  cluster: Cluster,
  pki: Pki,
  options: KueueOptions = {},
): Promise<KueueState> {
  if (Deno.uid() !== 0) {
    throw new Error("Kueue needs root here (its own mount namespace for /etc/kueue)");
  }
  const binary = await ensureKueue();
  const dir = join(cluster.dir, "kueue");
  await makePrivateDir(dir);
  const certDir = join(dir, "certs");
  await makePrivateDir(certDir);
  await signCertificate(
    certDir,
    "tls",
    "/CN=kueue-webhook",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    { cert: pki.caCert, key: pki.caKey },
    30,
  );
  const overlay = join(dir, "etc-overlay");
  await makePrivateDir(overlay);

  for (const crd of await kueueCrds()) {
    // Server-side: the CRDs are too large for the last-applied annotation.
    await kubectl(cluster, ["apply", "--server-side", "-f", crd]);
  }
  // Polled: `kubectl wait` fails on a CRD whose status the apiserver has not written yet.
  for (const crd of ["workloads", "clusterqueues", "localqueues", "resourceflavors"]) {
    await waitFor(
      `CRD ${crd}.kueue.x-k8s.io Established`,
      async () =>
        (await kubectl(cluster, [
          "get",
          "crd",
          `${crd}.kueue.x-k8s.io`,
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ])).trim() === "True",
      60_000,
    );
  }
  await kubectl(
    cluster,
    ["apply", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: KUEUE_NAMESPACE } }),
  );

  const webhookPort = freePort();
  const healthPort = freePort();
  const config = join(dir, "config.yaml");
  await Deno.writeTextFile(
    config,
    kueueConfigYaml({ webhookPort, healthPort, certDir, ...options }),
  );
  const args = [`--config=${config}`, `--kubeconfig=${cluster.kubeconfig}`, "--zap-log-level=info"];
  const wrapped = await startProcess(KUEUE_COMPONENT, cluster.dir, "unshare", [
    "--mount",
    "sh",
    "-c",
    WRAPPER,
    "sh",
    overlay,
    certDir,
    binary,
    ...args,
  ]);
  const log = join(cluster.dir, "logs", `${KUEUE_COMPONENT}.log`);
  const kueue = await execedAs(wrapped, [binary, ...args], 30_000).catch(async (err) => {
    const tail = (await Deno.readTextFile(log).catch(() => "")).split("\n").slice(-20).join("\n");
    throw new Error(`${err.message}\n${tail}`);
  });
  cluster.processes[KUEUE_COMPONENT] = kueue;
  cluster.commands[KUEUE_COMPONENT] = { binary, args };
  const state: KueueState = {
    webhookUrl: `https://127.0.0.1:${webhookPort}`,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    config,
    ...(options.clientQps || options.clientBurst ? { client: options } : {}),
  };
  await waitFor(
    "kueue",
    async () => {
      const res = await fetch(`${state.healthUrl}/readyz`);
      await res.body?.cancel();
      return res.ok;
    },
    120_000,
    kueue.pid,
    log,
  );
  const caPem = await Deno.readTextFile(pki.caCert);
  for (
    const c of kueueWebhookConfigurations(await kueueWebhookManifests(), state.webhookUrl, caPem)
  ) {
    await kubectl(cluster, ["apply", "-f", "-"], JSON.stringify(c));
  }
  return state;
}
