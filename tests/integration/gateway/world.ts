// The model gateway as the tests run it: the real gateway (core and glue, on
// the test cluster's apiserver) in front of the scripted model server (the
// providers' stand-in), a namespace of its own holding the provider's key, and
// a ModelProvider naming that Secret. The operator is told where it is.
import type { ModelProtocol } from "../../../api/v1alpha1/modelprovider.ts";
import { AccessProvider } from "../../../controllers/runtime/access.ts";
import { ApiTransport } from "../../../controllers/runtime/transport.ts";
import { createLogger } from "../../../controllers/runtime/log.ts";
import { startGatewayOnApi } from "../../../gateway/main.ts";
import type { Gateway } from "../../../gateway/server.ts";
import {
  type ModelServer,
  type Script,
  startModelServer,
} from "../../../localcluster/model_server/mod.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { repoRoot } from "../../../localcluster/paths.ts";
import { installCrds } from "../api/crds.ts";
import { type Json, TaskHarness } from "../task/harness.ts";
import { DEFAULT_JOB_SETTINGS } from "../../../controllers/task/job.ts";

export const AUDIENCE = "kubetask-gateway";

export interface GatewayWorld {
  /** The ModelProvider's name (cluster-scoped, unique to this world). */
  provider: string;
  /** The key only the gateway and the model server ever see. */
  key: string;
  /** The gateway's namespace (its provider Secret lives there). */
  namespace: string;
  /** In-process (Gateway) or, with asProcess, its URL alone. */
  gateway: Pick<Gateway, "url"> & Partial<Gateway>;
  /** With asProcess: the gateway's process. */
  process?: GatewayProcess;
  /** Where the gateway keeps transcripts. */
  transcriptDir: string;
  model: ModelServer;
  transport: ApiTransport;
  /** What the gateway logged: in-process its last 500 lines (info and up), as a process all. */
  log(): string;
  close(): Promise<void>;
}

export interface GatewayWorldOptions {
  /** Where both servers listen (the real node's bridge address for pods, else loopback). */
  hostname: string;
  scripts: Script[];
  /** PEM certificate and key for the gateway; absent: plain HTTP. */
  tls?: { cert: string; key: string };
  /** Prices per million tokens for the scripted models. */
  prices?: Json[];
  /** The ModelProvider's wire protocol; AnthropicMessages unless told. */
  protocol?: ModelProtocol;
  /** The gateway's own namespace (an install's); absent: a new one, removed on close. */
  namespace?: string;
  /** The gateway's credentials (e.g. impersonating its installed ServiceAccount); absent: KUBECONFIG's. */
  kubeconfig?: string;
  /** The model server paces streamed answers, one event per this many ms. */
  eventDelayMs?: number;
  /** A gateway already running (an install's, in its own namespace): none is started here;
   *  its URL (as agent pods reach it) and where its transcripts are seen from this host. */
  installed?: { url: string; transcriptDir: string };
  /** The gateway as `kubetask gateway`, a process of its own (so a test can SIGKILL it and
   *  start it again on the same port, certificate and transcript directory); else in-process. */
  asProcess?: boolean;
}

/** The gateway running as the `kubetask gateway` subcommand. */
export interface GatewayProcess {
  /** SIGKILL: nothing is flushed, nothing closed. */
  kill(): Promise<void>;
  /** Starts it again with the same flags; resolves once it listens. */
  start(): Promise<void>;
  /** What it logged (stdout and stderr), every run so far. */
  log(): string;
}

export async function startGatewayWorld(o: GatewayWorldOptions): Promise<GatewayWorld> {
  await installCrds();
  const ns = o.namespace
    ? {
      name: o.namespace,
      cleanup: () => kubectl(["delete", "secret", "provider-key", "-n", o.namespace!]),
    }
    : await testNamespace("gw");
  const provider = `scripted-${crypto.randomUUID().slice(0, 8)}`;
  const key = `sk-provider-${crypto.randomUUID()}`;
  const model = await startModelServer({
    hostname: o.hostname,
    scripts: o.scripts,
    eventDelayMs: o.eventDelayMs,
  });
  await kubectl(
    ["create", "-n", ns.name, "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "provider-key" },
      stringData: { "api-key": key },
    }),
  );
  await kubectl(
    ["create", "-f", "-"],
    JSON.stringify({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "ModelProvider",
      metadata: { name: provider },
      spec: {
        protocol: o.protocol ?? "AnthropicMessages",
        upstreamURL: model.url,
        secretRef: { name: "provider-key", key: "api-key" },
        prices: o.prices ?? [{ model: "*", inputPerMTok: "3", outputPerMTok: "15" }],
      },
    }),
  );
  const kubeconfig = o.kubeconfig ?? Deno.env.get("KUBECONFIG")!;
  const transport = new ApiTransport(await AccessProvider.load({ kubeconfig }));
  const transcriptDir = o.installed?.transcriptDir ??
    await Deno.makeTempDir({ prefix: "gateway-transcripts-" });
  const process = o.asProcess
    ? await gatewayProcess(o.hostname, ns.name, transcriptDir, o.tls, kubeconfig)
    : undefined;
  const logged: string[] = [];
  const keep = (line: string) => {
    logged.push(line);
    if (logged.length > 500) logged.shift();
  };
  const debug = !!Deno.env.get("KUBETASK_TEST_LOG");
  const gateway: GatewayWorld["gateway"] = o.installed
    ? { url: o.installed.url }
    : process?.gateway ?? await startGatewayOnApi({
      transport,
      namespace: ns.name,
      audience: AUDIENCE,
      log: createLogger({
        level: debug ? "debug" : "info",
        // Kept for a failing test to show (a refused caller and its reason); errors printed.
        sink: (line) => {
          keep(line);
          if (debug || /"level":"error"/.test(line)) console.error(line);
        },
      }),
      server: {
        hostname: o.hostname,
        port: 0,
        ...(o.tls ? { tls: o.tls } : {}),
        transcriptDir,
        usageFlushIntervalMs: 300,
      },
    });
  return {
    provider,
    key,
    namespace: ns.name,
    gateway,
    process,
    transcriptDir,
    model,
    transport,
    log: () => process?.log() ?? logged.join("\n"),
    async close() {
      await gateway.close?.();
      await model.close();
      await transport.close();
      await kubectl(["delete", "modelprovider", provider, "--ignore-not-found"]);
      await ns.cleanup();
      if (!o.installed) await Deno.remove(transcriptDir, { recursive: true }).catch(() => {});
    },
  };
}

/** `kubetask gateway` on a port fixed for its life, with the world's kubeconfig. */
async function gatewayProcess(
  hostname: string,
  namespace: string,
  transcriptDir: string,
  tls: { cert: string; key: string } | undefined,
  kubeconfig: string,
): Promise<GatewayProcess & { gateway: { url: string; close(): Promise<void> } }> {
  const free = Deno.listen({ hostname, port: 0 });
  const port = (free.addr as Deno.NetAddr).port;
  free.close();
  const files = await Deno.makeTempDir({ prefix: "gateway-process-" });
  const tlsFlags: string[] = [];
  if (tls) {
    await Deno.writeTextFile(`${files}/tls.crt`, tls.cert);
    await Deno.writeTextFile(`${files}/tls.key`, tls.key);
    tlsFlags.push("--tls-cert-file", `${files}/tls.crt`, "--tls-key-file", `${files}/tls.key`);
  } else tlsFlags.push("--insecure-http");
  const url = `${tls ? "https" : "http"}://${hostname}:${port}`;
  let child: Deno.ChildProcess | undefined;
  let output = "";
  let pumping: Promise<unknown>[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output += text;
  };
  const p = {
    gateway: {
      url,
      // The process, then its certificate and key: nothing is left in the temporary folder.
      close: async () => {
        await p.kill();
        await Deno.remove(files, { recursive: true }).catch(() => {});
      },
    },
    log: () => output,
    async start() {
      child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${repoRoot}/main.ts`,
          "gateway",
          "--kubeconfig",
          kubeconfig,
          "--listen-addr",
          `${hostname}:${port}`,
          ...tlsFlags,
          "--namespace",
          namespace,
          "--transcript-dir",
          transcriptDir,
          "--usage-flush-interval",
          "1s",
          "--log-level",
          Deno.env.get("KUBETASK_TEST_LOG") ? "debug" : "info",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      pumping = [pump(child.stdout), pump(child.stderr)];
      let exited = false;
      child.status.then(() => exited = true);
      await eventually(`the gateway process listening on ${url}`, async () => {
        if (exited) throw new Error(`it exited:\n${output}`);
        // Listening is enough: it binds once the apiserver connection and the store are set up.
        (await Deno.connect({ hostname, port })).close();
        return true;
      }, 60_000).catch((err) => {
        throw new Error(`${err}\n${output}`);
      });
    },
    async kill() {
      if (!child) return;
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await Promise.allSettled(pumping);
      child = undefined;
    },
  };
  await p.start();
  return p;
}

/** A token of `serviceAccount` in `namespace`, optionally bound to a pod, as the kubelet would mint it. */
export async function mintToken(
  namespace: string,
  serviceAccount: string,
  opts: { audience?: string; pod?: { name: string; uid: string } } = {},
): Promise<string> {
  const request = {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: {
      ...(opts.audience ? { audiences: [opts.audience] } : {}),
      expirationSeconds: 600,
      ...(opts.pod
        ? {
          boundObjectRef: { kind: "Pod", apiVersion: "v1", name: opts.pod.name, uid: opts.pod.uid },
        }
        : {}),
    },
  };
  const out = await kubectl(
    [
      "create",
      "--raw",
      `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      "-f",
      "-",
    ],
    JSON.stringify(request),
  );
  return JSON.parse(out).status.token;
}

/** kwok keeps such a pod Running until it is deleted (localcluster/kwok-stages.yaml). */
export const HOLD = { "sim.kubetask.io/outcome": "hold" };

const BASH_TOOL = {
  name: "Bash",
  description: "Run a shell command",
  input_schema: { type: "object", properties: { command: { type: "string" } } },
};

export function ask(marker: string, maxTokens = 200): Json {
  return {
    model: "claude-scripted",
    max_tokens: maxTokens,
    stream: false,
    tools: [BASH_TOOL],
    messages: [{ role: "user", content: `Fix it (${marker}).` }],
  };
}

export async function call(w: GatewayWorld, provider: string, token: string, body: Json) {
  const res = await fetch(`${w.gateway.url}/p/${provider}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": token,
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** A gateway on loopback answering `marker` once, and an operator that knows it, with Agent "coder". */
export async function gatewayAndOperator(
  marker: string,
): Promise<{ w: GatewayWorld; h: TaskHarness }> {
  const w = await startGatewayWorld({
    hostname: "127.0.0.1",
    scripts: [{ marker, turns: [{ text: "Done." }] }],
  });
  const h = await TaskHarness.start({
    settings: () => ({
      ...DEFAULT_JOB_SETTINGS,
      gateway: {
        url: w.gateway.url,
        caPem: "unused on kwok",
        audience: AUDIENCE,
        tokenExpirationSeconds: 600,
      },
    }),
  });
  await h.agent("coder", { modelProvider: w.provider, podSpec: { labels: HOLD } });
  return { w, h };
}

export async function podOf(h: TaskHarness, task: string): Promise<Json> {
  return await eventually(`the pod of Task ${task}`, async () => {
    const pods = JSON.parse(
      await kubectl(["get", "pods", "-n", h.ns, "-l", `kubetask.io/task=${task}`, "-o", "json"]),
    ).items;
    return pods.find((p: Json) => p.status?.phase === "Running");
  }, 60_000);
}
