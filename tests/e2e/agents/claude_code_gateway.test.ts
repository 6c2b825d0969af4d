// Claude Code through the KubeTask model gateway, on the real node: the pod
// holds a gateway token instead of a provider key, the gateway (HTTPS, its
// own CA, on the node's bridge) adds the real key on the way to the scripted
// model server, counts every token into the Task's status while it runs, and
// keeps the transcript, which `kubectl kubetask transcript` reads through the
// apiserver's service proxy for the Task's owner only. Then a stolen token
// after the end, and a budget the CLI runs into.
import assert from "assert";
import { join } from "node:path";
import { GIT_IMAGE } from "../../../agents/images.ts";
import {
  agentOnRealNode,
  fixAndPushScript,
  PROJECT_DIR,
  PROJECT_FILES,
  shippedAgent,
} from "../../../localcluster/demo_project.ts";
import { git, startGitServer } from "../../../localcluster/git_server.ts";
import { createCa, signCertificate } from "../../../localcluster/pki.ts";
import { kubeconfigYaml } from "../../../localcluster/cluster.ts";
import { repoRoot } from "../../../localcluster/paths.ts";
import { eventually, kubectl, testNamespace } from "../../integration/env.ts";
import { AGENT_SA, condition, type Json, TaskHarness } from "../../integration/task/harness.ts";
import { AUDIENCE, mintToken, startGatewayWorld } from "../../integration/gateway/world.ts";
import { agentLog, onRealNode, realNode } from "../real_node.ts";

const SHOW = !!Deno.env.get("KUBETASK_E2E_SHOW_LOGS");
let GATEWAY_URL = "";
let GATEWAY_CA_FILE = "";
const GATEWAY_DIR = "/var/run/secrets/kubetask.io/gateway";
/** What the model has the CLI run first: everything a prompt injection could read. */
const LOOK_AROUND = `env | sort; echo '--- environ'; tr '\\0' '\\n' < /proc/self/environ | sort; ` +
  `echo '--- files'; ls ${GATEWAY_DIR}; head -c 40 ${GATEWAY_DIR}/ca.crt; echo; sleep 4`;

/** A kubeconfig whose user is `token` (a ServiceAccount's), at the test cluster. */
async function kubeconfigFor(dir: string, name: string, token: string): Promise<string> {
  const admin = await Deno.readTextFile(Deno.env.get("KUBECONFIG")!);
  const server = admin.match(/server: (\S+)/)![1];
  const ca = admin.match(/certificate-authority: (\S+)/)![1];
  const path = join(dir, `${name}.kubeconfig`);
  await Deno.writeTextFile(path, kubeconfigYaml(server, ca, token));
  return path;
}

async function transcriptCli(kubeconfig: string, args: string[]) {
  // The apiserver's service proxy finds no endpoints for a Service pointed by hand at this
  // host (seen on the local control plane; not understood yet): the gateway is reached
  // directly, with the same authorization (the reader's token, TokenReview, SubjectAccessReview).
  args = [...args, "--gateway-url", GATEWAY_URL, "--gateway-ca-file", GATEWAY_CA_FILE];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(repoRoot, "main.ts"),
      "transcript",
      "--kubeconfig",
      kubeconfig,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test(
  onRealNode(
    "e2e: Claude Code through the model gateway: no key in the pod, live usage, transcript for its owner only",
  ),
  async () => {
    const address = realNode!.gateway;
    const marker = `MARK-claude-gw-${crypto.randomUUID().slice(0, 8)}`;
    const base = fixAndPushScript(marker, "fix");
    const script = {
      marker,
      turns: [{ text: "First, a look around.", shell: LOOK_AROUND }, ...base.turns],
    };
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
      scripts: [script],
      tls: {
        cert: await Deno.readTextFile(serving.cert),
        key: await Deno.readTextFile(serving.key),
      },
    });
    const gitServer = await startGitServer(address);
    const project = `calc-${crypto.randomUUID().slice(0, 6)}`;
    const url = await gitServer.addRepository(project, PROJECT_FILES);
    const h = await TaskHarness.start({
      settings: () => ({
        gitImage: GIT_IMAGE,
        gateway: { url: w.gateway.url, caPem, audience: AUDIENCE, tokenExpirationSeconds: 600 },
      }),
    });
    try {
      // The shipped Agent for the gateway: a provider instead of the key credential.
      const { secret, agent } = await shippedAgent("claude-code");
      await h.apply({ ...secret, stringData: { "git-token": gitServer.token } });
      const spec = agentOnRealNode(agent, secret.metadata.name, AGENT_SA);
      await h.agent(agent.metadata.name, {
        ...spec,
        modelProvider: w.provider,
        credentials: spec.credentials.filter((c: Json) => c.env !== "ANTHROPIC_API_KEY"),
      });
      await h.context("fix-src", { type: "Git", git: { repository: url, ref: "main" } });
      await h.task("fix", {
        agentRef: agent.metadata.name,
        description: `Make the tests of the calc project pass (${marker}).`,
        contexts: [{ name: "fix-src", mountPath: PROJECT_DIR }],
      });

      // Live: the gateway's count is on the Task before the agent is done.
      const live = await eventually(
        "status.usage from the gateway while the Task runs",
        async () => {
          const t = await h.get("Task", "fix");
          return t?.status?.phase === "Running" && t.status.usage?.source === "Gateway" &&
            t.status.usage.requests > 0 && t;
        },
        180_000,
      );
      const done = await h.waitForPhase("fix", "Completed", 240_000).catch(async (err) => {
        throw new Error(`${err}\n${await agentLog(h, "fix").catch(() => "")}`);
      });
      const log = await agentLog(h, "fix");
      assert.match(log, /model calls go through the KubeTask gateway at https:\/\//);

      // The branch, pushed by the real CLI as without the gateway.
      const clone = await gitServer.clone(project, "kubetask/fix");
      assert.deepEqual(done.status.outputs, {
        branch: "kubetask/fix",
        commit: await git(clone, "rev-parse", "HEAD"),
      });

      // The model server saw the real key on every request; the pod never held it.
      const mine = w.model.requests.filter((r) => r.marker === marker);
      assert.ok(mine.length >= 5, `${mine.length} scripted requests`);
      assert.ok(mine.every((r) => r.headers["x-api-key"] === w.key), "the provider's key upstream");
      const lookedAround = JSON.stringify(mine[1].body);
      assert.ok(lookedAround.includes("KUBETASK_GATEWAY_URL="), "the env dump reached the model");
      assert.ok(lookedAround.includes("--- environ") && lookedAround.includes("--- files"));
      assert.ok(lookedAround.includes("BEGIN CERTIFICATE"), "the mounted files were read");
      const everything = JSON.stringify(mine.map((r) => r.body)) + log;
      assert.ok(!everything.includes(w.key), "the key was in the pod's env, environ or files");
      assert.doesNotMatch(lookedAround, /ANTHROPIC_API_KEY=/);

      // The gateway's figures are the Task's, equal to what the server reported.
      const served = w.model.usage(marker);
      assert.equal(done.status.usage.source, "Gateway");
      assert.equal(done.status.usage.inputTokens, served.inputTokens);
      assert.equal(done.status.usage.outputTokens, served.outputTokens);
      assert.ok(live.status.usage.requests < done.status.usage.requests, "written as it went");
      assert.ok(done.status.usage.agentReported, "the CLI's own figures kept beside");

      // The transcript, as the CLI reads it, for the Task's owner (view in its namespace).
      await h.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "owner" } });
      await h.apply({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "owner-views" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
        subjects: [{ kind: "ServiceAccount", name: "owner", namespace: h.ns }],
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
      GATEWAY_URL = w.gateway.url;
      GATEWAY_CA_FILE = ca.cert;
      const stranger = await testNamespace("stranger");
      try {
        await kubectl(["create", "serviceaccount", "someone", "-n", stranger.name]);
        const owner = await kubeconfigFor(dir, "owner", await mintToken(h.ns, "owner"));
        const text = await eventually("the owner reads the transcript", async () => {
          const r = await transcriptCli(owner, [
            "fix",
            "-n",
            h.ns,
            "--gateway-namespace",
            w.namespace,
          ]);
          return r.code === 0 ? r.stdout : (SHOW && console.error(r.stderr), undefined);
        }, 30_000);
        assert.ok(text.includes("Fixed add.sh"), text.slice(0, 2000));
        assert.ok(!text.includes(w.key));
        const json = await transcriptCli(owner, [
          "fix",
          "-n",
          h.ns,
          "-o",
          "json",
          "--gateway-namespace",
          w.namespace,
        ]);
        assert.equal(json.code, 0, json.stderr);
        assert.ok(JSON.parse(json.stdout).length >= mine.length);
        const other = await kubeconfigFor(
          dir,
          "someone",
          await mintToken(stranger.name, "someone"),
        );
        const refused = await transcriptCli(other, [
          "fix",
          "-n",
          h.ns,
          "--gateway-namespace",
          w.namespace,
        ]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /403/);
        if (SHOW) {
          console.error(
            `[e2e] claude-code via gateway: live usage ${JSON.stringify(live.status.usage)}`,
          );
          console.error(`[e2e] final usage ${JSON.stringify(done.status.usage)}`);
          console.error(
            `[e2e] transcript (first lines):\n${text.split("\n").slice(0, 12).join("\n")}`,
          );
          console.error(`[e2e] the stranger: ${refused.stderr.trim()}`);
          const dump = lookedAround.indexOf("KUBETASK_GATEWAY");
          console.error(
            `[e2e] what the CLI's shell saw (env, environ, files):\n` +
              lookedAround.slice(Math.max(0, dump - 1500), dump + 2500).replaceAll("\\n", "\n"),
          );
        }
      } finally {
        await stranger.cleanup();
      }

      // A token stolen from the pod and used after the Task ended: refused, never forwarded.
      const pod = JSON.parse(
        await kubectl(["get", "pods", "-n", h.ns, "-l", "kubetask.io/task=fix", "-o", "json"]),
      ).items[0];
      const stolen = await mintToken(h.ns, AGENT_SA, {
        audience: AUDIENCE,
        pod: { name: pod.metadata.name, uid: pod.metadata.uid },
      });
      const before = w.model.requests.length;
      const late = await fetch(`${w.gateway.url}/p/${w.provider}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": stolen, "content-type": "application/json" },
        body: JSON.stringify({
          model: "m",
          max_tokens: 10,
          messages: [{ role: "user", content: "hi" }],
        }),
        client: Deno.createHttpClient({ caCerts: [caPem] }),
      });
      assert.equal(late.status, 401, await late.text());
      assert.equal(w.model.requests.length, before, "nothing forwarded");
    } finally {
      await h.cleanup();
      await gitServer.close();
      await w.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  onRealNode(
    "e2e: Claude Code over its budget sees the gateway's refusal; the Task fails BudgetExceeded, nothing pushed",
  ),
  async () => {
    const address = realNode!.gateway;
    const marker = `MARK-claude-budget-${crypto.randomUUID().slice(0, 8)}`;
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
      scripts: [fixAndPushScript(marker, "capped")],
      tls: {
        cert: await Deno.readTextFile(serving.cert),
        key: await Deno.readTextFile(serving.key),
      },
    });
    const gitServer = await startGitServer(address);
    const project = `calc-${crypto.randomUUID().slice(0, 6)}`;
    const url = await gitServer.addRepository(project, PROJECT_FILES);
    const h = await TaskHarness.start({
      settings: () => ({
        gitImage: GIT_IMAGE,
        gateway: { url: w.gateway.url, caPem, audience: AUDIENCE, tokenExpirationSeconds: 600 },
      }),
    });
    try {
      const { secret, agent } = await shippedAgent("claude-code");
      await h.apply({ ...secret, stringData: { "git-token": gitServer.token } });
      const spec = agentOnRealNode(agent, secret.metadata.name, AGENT_SA);
      await h.agent(agent.metadata.name, {
        ...spec,
        modelProvider: w.provider,
        credentials: spec.credentials.filter((c: Json) => c.env !== "ANTHROPIC_API_KEY"),
      });
      await h.context("capped-src", { type: "Git", git: { repository: url, ref: "main" } });
      // Less than one of Claude Code's requests may cost in the worst case.
      await h.task("capped", {
        agentRef: agent.metadata.name,
        description: `Make the tests of the calc project pass (${marker}).`,
        contexts: [{ name: "capped-src", mountPath: PROJECT_DIR }],
        budget: { tokens: 1000 },
      });
      const done = await h.waitForPhase("capped", "Failed", 240_000);
      assert.equal(condition(done, "Succeeded").reason, "BudgetExceeded");
      assert.match(
        condition(done, "Succeeded").message,
        /KubeTask budget exhausted: Task capped used/,
      );
      assert.match(done.status.usage.budgetExceeded, /KubeTask budget exhausted/);
      const log = await agentLog(h, "capped");
      assert.match(log, /KubeTask budget exhausted/, "the CLI saw the refusal");
      assert.equal(w.model.requests.filter((r) => r.marker === marker).length, 0, "none forwarded");
      assert.equal(done.status.outputs, undefined, "nothing pushed");
      const events = await h.eventsFor("capped");
      assert.ok(events.some((e) => /BudgetExceeded/.test(e)), events.join("\n"));
      if (SHOW) {
        console.error(
          `[e2e] BudgetExceeded Task: ${JSON.stringify(done.status, null, 1).slice(0, 2500)}`,
        );
      }
    } finally {
      await h.cleanup();
      await gitServer.close();
      await w.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
