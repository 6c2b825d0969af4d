// The fix-and-push run through the KubeTask model gateway, for any shipped
// agent CLI, on the real node: the pod holds a gateway token instead of a
// provider key, the gateway (HTTPS, its own CA, on the node's bridge) adds the
// real key on the way to the scripted model server, counts every token into
// the Task's status while it runs, and keeps the transcript, which `kubectl
// kubetask transcript` reads for the Task's owner only. Then a token stolen
// from the pod and used after the end.
import assert from "assert";
import { join } from "node:path";
import {
  agentOnRealNode,
  fixAndPushScript,
  PROJECT_DIR,
  PROJECT_FILES,
  shippedAgent,
} from "../../../localcluster/demo_project.ts";
import { git, type GitServer, startGitServer } from "../../../localcluster/git_server.ts";
import {
  type RecordedRequest,
  type Script,
  toolResultsOf,
} from "../../../localcluster/model_server/mod.ts";
import { createCa, signCertificate } from "../../../localcluster/pki.ts";
import { kubeconfigYaml } from "../../../localcluster/cluster.ts";
import { repoRoot } from "../../../localcluster/paths.ts";
import { eventually, kubectl, testNamespace } from "../../integration/env.ts";
import { AGENT_SA, type Json, TaskHarness } from "../../integration/task/harness.ts";
import {
  AUDIENCE,
  type GatewayWorld,
  type GatewayWorldOptions,
  mintToken,
  startGatewayWorld,
} from "../../integration/gateway/world.ts";
import { agentLog, REAL_NODE_SETTINGS, realNode } from "../real_node.ts";
import { type TranscriptRecord, TranscriptStore } from "../../../gateway/transcripts.ts";
import type { GatewayCase } from "./gateway_cases.ts";

const SHOW = !!Deno.env.get("KUBETASK_E2E_SHOW_LOGS");
const GATEWAY_DIR = "/var/run/secrets/kubetask.io/gateway";
/** What the model has the CLI run first: everything a prompt injection could read, the gateway
 *  token too (sent to the model, as an attacker's prompt would have it sent out). */
const LOOK_AROUND =
  `env | sort; echo '--- environ'; cat /proc/self/environ 2>&1 | tr '\\0' '\\n' | sort; ` +
  `echo '--- files'; ls ${GATEWAY_DIR}; head -c 40 ${GATEWAY_DIR}/ca.crt; echo; ` +
  `echo '--- token'; cat ${GATEWAY_DIR}/token; echo; sleep 4`;

/** The pod's gateway token as the CLI's shell printed it into a request (a JWT after "--- token"). */
function tokenIn(body: unknown): string | undefined {
  return /--- token(?:\\+r)?\\+n(eyJ[\w-]+\.[\w-]+\.[\w-]+)/.exec(JSON.stringify(body))?.[1];
}

/** The claims of a JWT ({} for anything else). */
function claimsOf(jwt: string): Json {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return {};
  }
}

/** The audiences of a JWT (none for anything else). */
function audiencesOf(jwt: string): string[] {
  return [claimsOf(jwt).aud ?? []].flat();
}

/** What a refusal that did not happen needs to be understood: whose tokens, what was logged. */
function replayContext(tokens: Record<string, string>, log: string): string {
  const claims = Object.entries(tokens).map(([name, t]) => {
    const { iat, exp, "kubernetes.io": k } = claimsOf(t);
    return `${name}: pod ${k?.pod?.name} ${k?.pod?.uid}, iat ${iat}, exp ${exp}`;
  });
  return [...claims, "gateway log (end):", ...log.split("\n").slice(-40)].join("\n");
}

/** The gateway world over HTTPS on the real node's bridge, the git server, a harness told of it. */
export interface GatewayRun {
  w: GatewayWorld;
  h: TaskHarness;
  gitServer: GitServer;
  /** The project's clone URL on the git server, and its name there. */
  url: string;
  project: string;
  caPem: string;
  dir: string;
  /** The gateway's URL as this host reaches it (absent: only pods reach it). */
  hostUrl?: string;
  /** The transcript command's flags that reach this gateway. */
  transcriptVia: string[];
  /** Creates the shipped Agent of `c`, naming the provider instead of carrying a key. */
  agent(): Promise<string>;
  close(): Promise<void>;
}

export async function startGatewayRun(
  c: GatewayCase,
  scripts: Script[],
  opts: Pick<GatewayWorldOptions, "eventDelayMs" | "asProcess"> = {},
): Promise<GatewayRun> {
  const address = realNode!.gateway;
  const dir = await Deno.makeTempDir({ prefix: "e2e-gateway-" });
  const ca = await createCa(join(dir, "ca"), "ca", "kubetask-e2e-gateway-ca", 2);
  const serving = await signCertificate(
    join(dir, "ca"),
    "gateway",
    "/CN=kubetask-gateway",
    `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth\n`,
    ca,
    2,
  );
  const caPem = await Deno.readTextFile(ca.cert);
  const w = await startGatewayWorld({
    hostname: address,
    scripts,
    protocol: c.protocol,
    ...opts,
    tls: {
      cert: await Deno.readTextFile(serving.cert),
      key: await Deno.readTextFile(serving.key),
    },
  });
  const h = await TaskHarness.start({
    // As the operator runs for real-node pods (the Git proxy sidecar too), told of this gateway.
    settings: () => ({
      ...REAL_NODE_SETTINGS,
      gateway: { url: w.gateway.url, caPem, audience: AUDIENCE, tokenExpirationSeconds: 600 },
    }),
  });
  return await gatewayRunOn(c, w, h, {
    caPem,
    dir,
    hostUrl: w.gateway.url,
    transcriptVia: [
      "--gateway-namespace",
      w.namespace,
      // The apiserver's service proxy finds no endpoints for a Service pointed by hand at this
      // host (seen on the local control plane; not understood yet): the gateway is reached
      // directly, with the same authorization (the reader's token, TokenReview,
      // SubjectAccessReview). The installed gateway is read through the proxy.
      "--gateway-url",
      w.gateway.url,
      "--gateway-ca-file",
      ca.cert,
    ],
  });
}

/**
 * A run on a gateway world and a harness already made (a host gateway's, or an
 * install's): the git server and its project, the Agent; close() ends all of
 * them and removes `dir`.
 */
export async function gatewayRunOn(
  c: GatewayCase,
  w: GatewayWorld,
  h: TaskHarness,
  o: Pick<GatewayRun, "caPem" | "dir" | "hostUrl" | "transcriptVia">,
): Promise<GatewayRun> {
  const gitServer = await startGitServer(realNode!.gateway);
  const project = `calc-${crypto.randomUUID().slice(0, 6)}`;
  const url = await gitServer.addRepository(project, PROJECT_FILES);
  return {
    ...o,
    w,
    h,
    gitServer,
    url,
    project,
    async agent() {
      // The shipped Agent for the gateway: a provider instead of the key credential.
      const { secret, agent } = await shippedAgent(c.cli);
      await h.apply({
        ...secret,
        stringData: { ...secret.stringData, "git-token": gitServer.token },
      });
      const spec = agentOnRealNode(agent, secret.metadata.name, AGENT_SA);
      await h.agent(agent.metadata.name, {
        ...spec,
        ...(c.command ? { command: c.command } : {}),
        modelProvider: w.provider,
        credentials: spec.credentials.filter((cr: Json) => cr.env !== c.keyVariable),
      });
      return agent.metadata.name;
    },
    async close() {
      await h.cleanup();
      await gitServer.close();
      await w.close();
      await Deno.remove(o.dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The model server's answers to the scripted turns of `marker` (side requests left out). */
export function turnsOf(requests: RecordedRequest[], marker: string): RecordedRequest[] {
  return requests.filter((r) => r.marker === marker && r.turn !== undefined);
}

/** How many tool results a transcript record's request carries (its turn), -1 for none. */
export function turnOfRecord(request: unknown): number {
  return toolResultsOf("/v1/messages", request) ?? -1;
}

/** The Task's transcript as the gateway stored it (read from its directory). */
export async function transcriptOf(run: GatewayRun, task: string): Promise<TranscriptRecord[]> {
  const t = await run.h.get("Task", task);
  return await new TranscriptStore({ dir: run.w.transcriptDir }).read(run.h.ns, t.metadata.uid);
}

/** A kubeconfig whose user is `token` (a ServiceAccount's), at the test cluster. */
async function kubeconfigFor(dir: string, name: string, token: string): Promise<string> {
  const admin = await Deno.readTextFile(Deno.env.get("KUBECONFIG")!);
  const server = admin.match(/server: (\S+)/)![1];
  const ca = admin.match(/certificate-authority: (\S+)/)![1];
  const path = join(dir, `${name}.kubeconfig`);
  await Deno.writeTextFile(path, kubeconfigYaml(server, ca, token));
  return path;
}

/** An Anthropic Messages call from this host to the gateway for `provider` with `token` as the key. */
function callGateway(run: GatewayRun, provider: string, token: string): Promise<Response> {
  return fetch(`${run.hostUrl}/p/${provider}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": token, "content-type": "application/json" },
    body: JSON.stringify({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "hi" }],
    }),
    client: Deno.createHttpClient({ caCerts: [run.caPem] }),
  });
}

/** A kubeconfig of the harness namespace's ServiceAccount "owner", who may view its Tasks. */
export async function transcriptOwner(run: GatewayRun): Promise<string> {
  await run.h.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "owner" } });
  await run.h.apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "owner-views" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
    subjects: [{ kind: "ServiceAccount", name: "owner", namespace: run.h.ns }],
  });
  await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: {
        name: "kubetask-e2e-task-viewer",
        labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" },
      },
      rules: [{ apiGroups: ["kubetask.io"], resources: ["tasks"], verbs: ["get", "list"] }],
    }),
  );
  return await kubeconfigFor(run.dir, "owner", await mintToken(run.h.ns, "owner"));
}

/** `kubectl kubetask transcript ARGS` as the user of `kubeconfig`, at the run's gateway. */
export async function transcriptCli(run: GatewayRun, kubeconfig: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(repoRoot, "main.ts"),
      "transcript",
      "--kubeconfig",
      kubeconfig,
      ...args,
      ...run.transcriptVia,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Another Task of the same Agent, run in the same world meanwhile (its own scripts). */
export interface Alongside {
  scripts: Script[];
  run(run: GatewayRun, agentName: string): Promise<void>;
}

/** Starts the run of the fix-and-push case on `scripts`: a host gateway's unless told. */
export type StartRun = (c: GatewayCase, scripts: Script[]) => Promise<GatewayRun>;

/**
 * `start`: how the run starts (a host gateway's by default); `more`: further checks on the
 * finished run (its gateway still up), before the stolen token; `alongside`: another Task run
 * in the same world meanwhile.
 */
export async function fixAndPushThroughGateway(
  c: GatewayCase,
  opts: { start?: StartRun; more?: (run: GatewayRun) => Promise<void>; alongside?: Alongside } = {},
): Promise<void> {
  const marker = `MARK-${c.cli}-gw-${crypto.randomUUID().slice(0, 8)}`;
  const base = fixAndPushScript(marker, "fix");
  const script = {
    marker,
    turns: [{ text: "First, a look around.", shell: LOOK_AROUND }, ...base.turns],
  };
  const run = await (opts.start ?? startGatewayRun)(c, [script, ...opts.alongside?.scripts ?? []]);
  const { w, h, gitServer } = run;
  let other: Promise<unknown> | undefined;
  let otherChecked = false;
  try {
    const agentName = await run.agent();
    other = opts.alongside?.run(run, agentName);
    other?.catch(() => {}); // its failure is thrown below, once this Task is checked
    await h.context("fix-src", { type: "Git", git: { repository: run.url, ref: "main" } });
    await h.task("fix", {
      agentRef: agentName,
      description: `Make the tests of the calc project pass (${marker}).`,
      contexts: [{ name: "fix-src", mountPath: PROJECT_DIR }],
    });

    // The pod's own token (the kubelet's), taken out through the model while the Task runs, used
    // for another provider than its Agent's: refused (403), never forwarded. From this host, so
    // only where the gateway is reachable from it.
    const stolen = run.hostUrl === undefined
      ? undefined
      : eventually("the pod's token in a request to the model", () => {
        return Promise.resolve(
          w.model.requests.filter((r) => r.marker === marker).map((r) => tokenIn(r.body))
            .find((t) => t),
        );
      }, 180_000).then(async (token) => {
        const res = await callGateway(run, "someone-elses", token);
        return { token, status: res.status, text: await res.text() };
      });
    stolen?.catch(() => {});

    // Live: the gateway's count is on the Task before the agent is done.
    const live = await eventually(
      "tokens in status.usage from the gateway while the Task runs",
      async () => {
        const t = await h.get("Task", "fix");
        return t?.status?.phase === "Running" && t.status.usage?.source === "Gateway" &&
          t.status.usage.inputTokens > 0 && t;
      },
      180_000,
    );
    const done = await h.waitForPhase("fix", "Completed", 240_000).catch(async (err) => {
      throw new Error(`${err}\n${await agentLog(h, "fix").catch(() => "")}`);
    });
    const log = await agentLog(h, "fix");
    assert.match(log, /model calls go through the KubeTask gateway at https:\/\//);

    // The branch, pushed by the real CLI as without the gateway.
    const clone = await gitServer.clone(run.project, "kubetask/fix");
    assert.deepEqual(done.status.outputs, {
      branch: "kubetask/fix",
      commit: await git(clone, "rev-parse", "HEAD"),
    });

    // The model server saw the real key on every request; the pod never held it.
    const mine = w.model.requests.filter((r) => r.marker === marker);
    assert.ok(mine.length >= script.turns.length, `${mine.length} scripted requests`);
    assert.ok(mine.every((r) => c.keyOf(r) === w.key), "the provider's key upstream");
    const elsewhere = await stolen;
    if (elsewhere) {
      assert.equal(elsewhere.status, 403, elsewhere.text);
      assert.match(elsewhere.text, /uses provider scripted-[0-9a-f]+, not someone-elses/);
      assert.ok(audiencesOf(elsewhere.token).includes(AUDIENCE));
    }
    const lookedAround = mine.map((r) => JSON.stringify(r.body))
      .find((b) => b.includes("--- environ") && b.includes("KUBETASK_GATEWAY_URL=")) ?? "";
    assert.ok(lookedAround, "the env dump reached the model");
    // The sections of the command's output (in its text they are followed by a quote).
    const from = lookedAround.search(/--- environ(\\r)?\\n/);
    const environ = lookedAround.slice(from, lookedAround.indexOf("--- files", from + 12));
    assert.ok(environ.includes("KUBETASK_GATEWAY_URL="), `/proc/self/environ was read: ${environ}`);
    assert.ok(lookedAround.includes("--- files"), "the mounted files were listed");
    assert.ok(lookedAround.includes("BEGIN CERTIFICATE"), "the mounted files were read");
    const everything = JSON.stringify(w.model.requests.map((r) => r.body)) + log;
    assert.ok(!everything.includes(w.key), "the key was in the pod's env, environ or files");
    // Nor the Git token: the Git proxy sidecar holds it, the agent container does not.
    assert.ok(!everything.includes(gitServer.token), "the Git token was in the agent container");
    assert.ok(!lookedAround.includes("GIT_TOKEN="), "GIT_TOKEN in the agent's environment");
    // A CLI that reads its key from that variable (Gemini CLI) finds the gateway token there.
    for (
      const [, value] of lookedAround.matchAll(new RegExp(`${c.keyVariable}=([^\\s\\\\]*)`, "g"))
    ) {
      assert.ok(audiencesOf(value).includes(AUDIENCE), `${c.keyVariable}=${value.slice(0, 20)}…`);
    }

    // The gateway's figures are the Task's, equal to what the server reported.
    const served = w.model.usage(marker);
    assert.equal(done.status.usage.source, "Gateway");
    assert.equal(done.status.usage.inputTokens, served.inputTokens);
    assert.equal(done.status.usage.outputTokens, served.outputTokens);
    assert.ok(live.status.usage.requests < done.status.usage.requests, "written as it went");

    // The transcript, as the CLI reads it, for the Task's owner (view in its namespace).
    const owner = await transcriptOwner(run);
    const stranger = await testNamespace("stranger");
    try {
      await kubectl(["create", "serviceaccount", "someone", "-n", stranger.name]);
      const text = await eventually("the owner reads the transcript", async () => {
        const r = await transcriptCli(run, owner, ["fix", "-n", h.ns]);
        return r.code === 0 ? r.stdout : (SHOW && console.error(r.stderr), undefined);
      }, 30_000);
      assert.ok(text.includes("Fixed add.sh"), text.slice(0, 2000));
      assert.ok(!text.includes(w.key));
      const json = await transcriptCli(run, owner, ["fix", "-n", h.ns, "-o", "json"]);
      assert.equal(json.code, 0, json.stderr);
      assert.ok(JSON.parse(json.stdout).length >= mine.length);
      const other = await kubeconfigFor(
        run.dir,
        "someone",
        await mintToken(stranger.name, "someone"),
      );
      const refused = await transcriptCli(run, other, ["fix", "-n", h.ns]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /403/);
      if (SHOW) {
        console.error(
          `[e2e] ${c.cli} via gateway: live usage ${JSON.stringify(live.status.usage)}`,
        );
        console.error(`[e2e] ${c.cli} final usage ${JSON.stringify(done.status.usage)}`);
        console.error(
          `[e2e] transcript (first lines):\n${text.split("\n").slice(0, 12).join("\n")}`,
        );
        console.error(`[e2e] the stranger: ${refused.stderr.trim()}`);
        const dump = lookedAround.indexOf("KUBETASK_GATEWAY");
        console.error(
          `[e2e] what ${c.cli}'s shell saw (env, environ, files):\n` +
            lookedAround.slice(Math.max(0, dump - 1500), dump + 2500).replaceAll("\\n", "\n"),
        );
      }
    } finally {
      await stranger.cleanup();
    }

    await opts.more?.(run);

    otherChecked = true;
    await other;
    // A token stolen from the pod and used after the Task ended: refused, never forwarded.
    if (!run.hostUrl || !elsewhere) return;
    const pod = JSON.parse(
      await kubectl(["get", "pods", "-n", h.ns, "-l", "kubetask.io/task=fix", "-o", "json"]),
    ).items[0];
    const minted = await mintToken(h.ns, AGENT_SA, {
      audience: AUDIENCE,
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
    });
    const before = w.model.requests.length;
    const late = await callGateway(run, w.provider, minted);
    const tokens = { minted, taken: elsewhere.token };
    assert.equal(late.status, 401, `${await late.text()}\n${replayContext(tokens, w.log())}`);
    // And the one the kubelet gave the pod, taken out during the run.
    const taken = await callGateway(run, w.provider, elsewhere.token);
    assert.equal(taken.status, 401, `${await taken.text()}\n${replayContext(tokens, w.log())}`);
    assert.equal(w.model.requests.length, before, "nothing forwarded");
  } finally {
    // Settled before the world goes; its failure said too when this Task's came first.
    const failed = await other?.then(() => undefined, (err) => err);
    if (failed && !otherChecked) console.error(`[e2e] ${c.cli}, the Task alongside: ${failed}`);
    await run.close();
  }
}
