// The product path against the operator as users deploy it: installed by the
// chart (installed_operator.ts), a pod on the real node with in-cluster
// configuration. The cases are the host-process tests' own (fix_and_push.ts,
// ends_mid_run.ts, egress_cases.ts), with the installed operator instead of
// the in-process manager. Then a service-account token rotation under a
// running operator pod.
import assert from "assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readState } from "../../localcluster/cluster.ts";
import { eventually, kubectl } from "../integration/env.ts";
import { type Json, TaskHarness } from "../integration/task/harness.ts";
import { CLI_CASES } from "./agents/cli_cases.ts";
import { endsMidRun } from "./agents/ends_mid_run.ts";
import { fixAndPush } from "./agents/fix_and_push.ts";
import { restrictedCase, startEgressWorld } from "./egress_cases.ts";
import { installOperator, readyPod } from "./installed_operator.ts";
import { onRealNode, realNodeAgent, runPodOnce } from "./real_node.ts";

const CLAUDE = CLI_CASES["claude-code"];
const SA = "kubetask-controller"; // the chart's ServiceAccount

Deno.test(
  onRealNode(
    "e2e: Claude Code, a stop, a timeout and Restricted egress under the chart's operator",
  ),
  async (t) => {
    const op = await installOperator(4);
    try {
      const pod = await readyPod(op);
      console.error(`[e2e] ${await kubectl(["get", "pods", "-n", op.opNs, "-o", "wide"])}`);
      const harness = { operator: op };
      await t.step("Claude Code fixes a failing test, commits and pushes a branch", async () => {
        const done = await fixAndPush(CLAUDE, harness);
        console.error(
          `[e2e] ${await kubectl(["get", "task", "fix", "-n", done.metadata.namespace])}`,
        );
        console.error(`[e2e] pushed: ${JSON.stringify(done.status.outputs)}`);
      });
      await t.step(
        "a stop ends Claude Code mid-run",
        () => endsMidRun(CLAUDE, { by: "stop" }, harness),
      );
      await t.step(
        "a timeout ends Claude Code mid-run",
        () => endsMidRun(CLAUDE, { by: "timeout", timeout: "45s" }, harness),
      );
      await t.step("a Restricted Agent reaches neither target, its clone works", async () => {
        const w = await startEgressWorld(harness);
        try {
          await restrictedCase(w);
        } finally {
          await w.close();
        }
      });
      await t.step(
        "/metrics through the metrics Service: the reader's token 200, a tenant's 403",
        () => scrapeThroughService(op.opNs),
      );
      const after = await readyPod(op);
      assert.equal(after.metadata.uid, pod.metadata.uid, "one operator pod did it all");
      assert.equal(after.status.containerStatuses[0].restartCount, 0);
    } finally {
      await op.close();
    }
  },
);

/**
 * GET https://<metrics Service>:8443/metrics from a pod on the real node with its own
 * ServiceAccount's token, as Prometheus would (the certificate is self-signed: not verified).
 * Prints "STATUS <code>" and the response's kubetask_ lines.
 */
async function scrapeAs(ns: string, sa: string): Promise<string> {
  const url = `https://${SA}-metrics.${ns}.svc:8443/metrics`;
  const js = `const t=require("fs").readFileSync(` +
    `"/var/run/secrets/kubernetes.io/serviceaccount/token","utf8");` +
    `require("https").get(${JSON.stringify(url)},{rejectUnauthorized:false,` +
    `headers:{authorization:"Bearer "+t}},r=>{let b="";r.on("data",d=>b+=d);` +
    `r.on("end",()=>{console.log("STATUS "+r.statusCode);` +
    `console.log(b.split("\\n").filter(l=>l.startsWith("kubetask_")).slice(0,3).join("\\n"))})})` +
    `.on("error",e=>console.log("ERROR "+e.code))`;
  await kubectl(["create", "serviceaccount", sa, "-n", ns]);
  const log = await runPodOnce(ns, `scrape-${sa}`, ["node", "-e", js], { serviceAccountName: sa });
  console.error(`[e2e] /metrics as ${sa}: ${log.trim()}`);
  return log;
}

const READER_ROLE = new URL("../../deploy/clusterrole-metrics-reader.yaml", import.meta.url);

/** The reader role's rule as deploy/ ships it; created for the test when no install made it. */
async function scrapeThroughService(ns: string): Promise<void> {
  const role = "kubetask-metrics-reader";
  const made = !(await kubectl(["get", "clusterrole", role]).then(() => true, () => false));
  if (made) await kubectl(["apply", "-f", fileURLToPath(READER_ROLE)]);
  const binding = `kt-e2e-metrics-${ns}`;
  try {
    await kubectl([
      "create",
      "clusterrolebinding",
      binding,
      `--clusterrole=${role}`,
      `--serviceaccount=${ns}:prometheus`,
    ]);
    const reader = await scrapeAs(ns, "prometheus");
    assert.match(reader, /^STATUS 200$/m);
    assert.match(reader, /^kubetask_/m, "Prometheus text with the operator's metrics");
    const tenant = await scrapeAs(ns, "tenant");
    assert.match(tenant, /^STATUS 403$/m, "an authenticated token without the role");
  } finally {
    await kubectl(["delete", "clusterrolebinding", binding, "--ignore-not-found"]);
    if (made) await kubectl(["delete", "clusterrole", role, "--ignore-not-found"]);
  }
}

/** A token of the chart's ServiceAccount bound to Secret `bound` (refused once it is deleted). */
async function boundToken(ns: string, bound: string): Promise<string> {
  await kubectl(["create", "secret", "generic", bound, "-n", ns]);
  return (await kubectl([
    "create",
    "token",
    SA,
    "-n",
    ns,
    "--bound-object-kind=Secret",
    `--bound-object-name=${bound}`,
    "--duration=1h",
  ])).trim();
}

/** The apiserver's answer to `token` on /apis (any authenticated user may read it). */
async function statusFor(token: string): Promise<number> {
  const config = JSON.parse(await kubectl(["config", "view", "--raw", "--minify", "-o", "json"]));
  const cluster = config.clusters[0].cluster;
  const ca = cluster["certificate-authority-data"]
    ? atob(cluster["certificate-authority-data"])
    : await Deno.readTextFile(cluster["certificate-authority"]);
  const client = Deno.createHttpClient({ caCerts: [ca] });
  try {
    const res = await fetch(`${cluster.server}/apis`, {
      headers: { Authorization: `Bearer ${token}` },
      client,
    });
    await res.body?.cancel();
    return res.status;
  } finally {
    client.close();
  }
}

/**
 * The projected volume the kubelet gives every pod, its token taken from a
 * Secret the test writes: the kubelet swaps the file the same (atomic) way it
 * rotates a projected service-account token, within its sync period (5 s
 * here), where a real rotation waits for 80% of a 10-minute-or-longer lifetime.
 */
function tokenFromSecret(secret: string): Json[] {
  const path = "/spec/template/spec";
  return [
    { op: "replace", path: "/spec/replicas", value: 1 },
    { op: "add", path: `${path}/automountServiceAccountToken`, value: false },
    {
      op: "add",
      path: `${path}/volumes/-`,
      value: {
        name: "api-token",
        projected: {
          sources: [
            { secret: { name: secret, items: [{ key: "token", path: "token" }] } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            {
              downwardAPI: {
                items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }],
              },
            },
          ],
        },
      },
    },
    {
      op: "add",
      path: `${path}/containers/0/volumeMounts/-`,
      value: {
        name: "api-token",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        readOnly: true,
      },
    },
  ];
}

Deno.test(
  onRealNode("e2e: the operator pod keeps working across a token rotation, without a restart"),
  async () => {
    const op = await installOperator(1, ["--set", "replicas=0"]);
    try {
      const tokenA = await boundToken(op.opNs, "bind-a");
      await kubectl([
        "create",
        "secret",
        "generic",
        "op-token",
        "-n",
        op.opNs,
        `--from-literal=token=${tokenA}`,
      ]);
      await kubectl([
        "patch",
        "deployment",
        SA,
        "-n",
        op.opNs,
        "--type=json",
        "-p",
        JSON.stringify(tokenFromSecret("op-token")),
      ]);
      const pod = await readyPod(op);
      const h = await TaskHarness.start({ operator: op });
      await h.agent("default", realNodeAgent());
      await h.task("before", { description: "before the rotation" });
      await h.waitForPhase("before", "Completed", 180_000);

      // Rotate: the new token in the pod's file, then the old one refused by the apiserver.
      const tokenB = await boundToken(op.opNs, "bind-b");
      await kubectl([
        "patch",
        "secret",
        "op-token",
        "-n",
        op.opNs,
        "-p",
        JSON.stringify({ stringData: { token: tokenB } }),
      ]);
      const state = await readState(Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test");
      const file = join(
        state!.dir,
        "kubelet",
        "pods",
        pod.metadata.uid,
        "volumes",
        "kubernetes.io~projected",
        "api-token",
        "token",
      );
      await eventually(
        "the kubelet wrote the new token into the pod",
        async () => (await Deno.readTextFile(file)) === tokenB,
        60_000,
      );
      assert.equal(await statusFor(tokenA), 200, "the old token worked until now");
      await kubectl(["delete", "secret", "bind-a", "-n", op.opNs, "--wait=true"]);
      // The apiserver caches a token's success for up to 10 s.
      await eventually(
        "the apiserver refuses the old token",
        async () => (await statusFor(tokenA)) === 401,
        30_000,
      );
      console.error(`[e2e] the old token on /apis: 401; the new one: ${await statusFor(tokenB)}`);

      await h.task("after", { description: "after the rotation" });
      const done = await h.waitForPhase("after", "Completed", 180_000);
      assert.equal(done.status.exitCode, 0);
      const now = await readyPod(op);
      assert.equal(now.metadata.uid, pod.metadata.uid, "the same pod");
      assert.equal(now.status.containerStatuses[0].restartCount, 0, "not restarted");
      console.error(`[e2e] ${await kubectl(["get", "task", "-n", h.ns])}`);
      console.error(`[e2e] ${await kubectl(["get", "pods", "-n", op.opNs])}`);
    } finally {
      await op.close();
    }
  },
);
