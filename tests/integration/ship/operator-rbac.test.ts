// The operator, run as a separate process with exactly the binary's compile
// permissions, acting as the deployed ServiceAccount (kubeconfig `as:` on top
// of the admin token), drives a Task to Completed: deploy/'s RBAC is enough.
// With the same permissions it serves /metrics over HTTPS to the tokens the
// apiserver authorizes (a ServiceAccount bound to kubetask-metrics-reader),
// and refuses everyone else.
import assert from "assert";
import { join } from "node:path";
import { stringify } from "yaml";
import { RUNTIME_PERMISSIONS, RUNTIME_V8_FLAGS } from "../../../deploy/compile.ts";
import { selfSignedCertificate } from "../../../controllers/runtime/self_signed.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { impersonatingKubeconfig, installDeploy, repoRoot } from "./install.ts";

const SERVICE_ACCOUNT = "system:serviceaccount:kubetask-system:kubetask-controller";

/** Runs main.ts the way the compiled binary runs: only --allow-net/env/read. */
function startOperator(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUNTIME_PERMISSIONS, ...RUNTIME_V8_FLAGS, "main.ts", ...args],
    cwd: repoRoot,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // No KUBECONFIG: the impersonating --kubeconfig is the only credential.
    env: { KUBECONFIG: "" },
  }).spawn();
  let logs = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) logs += chunk;
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    logs: () => logs,
    exited: () => exited,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 15_000);
      await status;
      clearTimeout(timer);
      await drained;
    },
  };
}

Deno.test("the operator completes a Task with only the deployed ServiceAccount's permissions", async () => {
  const installed = await installDeploy();
  const ns = await testNamespace("ship-rbac");
  const dir = await Deno.makeTempDir({ prefix: "kubetask-ship-" });
  const leaseId = `ship-test-${crypto.randomUUID().slice(0, 8)}`;
  let operator: ReturnType<typeof startOperator> | undefined;
  try {
    const kubeconfig = await impersonatingKubeconfig(dir, SERVICE_ACCOUNT);
    // The rewritten kubeconfig really is restricted: the operator may not read Secrets.
    const secrets = await kubectl(["--kubeconfig", kubeconfig, "get", "secrets", "-n", ns.name])
      .then(() => "allowed", (e) => String(e));
    assert.match(secrets, /forbidden/i);

    const agentSa = "kubetask-agent";
    await kubectl(["create", "serviceaccount", agentSa, "-n", ns.name]);
    await kubectl(
      ["apply", "-n", ns.name, "-f", "-"],
      stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Agent",
        metadata: { name: "default" },
        spec: { agentImage: "example.test/agent:1", serviceAccountName: agentSa },
      }),
    );
    await kubectl(
      ["apply", "-n", ns.name, "-f", "-"],
      stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        metadata: { name: "update-service-a" },
        spec: {
          description: "Update dependencies to latest versions.\nRun tests and create PR.\n",
        },
      }),
    );

    // A certificate the test can verify (the default is a self-signed one made at start).
    const certDir = join(dir, "metrics-tls");
    await Deno.mkdir(certDir);
    const tls = await selfSignedCertificate("kubetask-metrics", ["127.0.0.1"]);
    await Deno.writeTextFile(join(certDir, "tls.crt"), tls.cert);
    await Deno.writeTextFile(join(certDir, "tls.key"), tls.key);
    operator = startOperator([
      `--kubeconfig=${kubeconfig}`,
      `--metrics-cert-dir=${certDir}`,
      `--namespaces=${ns.name}`,
      "--leader-elect=true",
      "--leader-election-namespace=kubetask-system",
      `--leader-election-id=${leaseId}`,
      "--metrics-addr=127.0.0.1:0",
      "--log-level=debug",
    ]);
    const op = operator;

    const task = await eventually("the Task to reach Completed", async () => {
      if (op.exited()) throw new Error(`operator exited:\n${op.logs()}`);
      const t = JSON.parse(
        await kubectl(["get", "task", "update-service-a", "-n", ns.name, "-o", "json"]),
      );
      return t.status?.phase === "Completed" ? t : undefined;
    }, 90_000).catch((err) => {
      throw new Error(`${err.message}\n--- operator log ---\n${op.logs().slice(-4000)}`);
    });

    // It got there through a Job it created, and holds the Lease it elected with.
    const job = JSON.parse(
      await kubectl(["get", "job", task.status.jobName, "-n", ns.name, "-o", "json"]),
    );
    assert.equal(job.metadata.ownerReferences?.[0]?.uid, task.metadata.uid);
    // Leadership is kept, not just taken: the Lease gets renewed (a write the
    // first acquisition does not need) while the operator keeps running.
    const lease = await eventually("the leader Lease to be renewed", async () => {
      if (op.exited()) throw new Error(`operator exited:\n${op.logs().slice(-4000)}`);
      const l = JSON.parse(
        await kubectl(["get", "lease", leaseId, "-n", "kubetask-system", "-o", "json"]),
      );
      return l.spec.renewTime !== l.spec.acquireTime ? l : undefined;
    }, 60_000);
    assert.ok(lease.spec.holderIdentity, "the operator holds the leader Lease");

    // /metrics: the apiserver decides who reads it (TokenReview, SubjectAccessReview).
    const port = op.logs().match(/"serving health and metrics".*"addr":"127\.0\.0\.1:(\d+)"/)?.[1];
    assert.ok(port, "the operator said where it serves metrics");
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    const scrape = async (token?: string) => {
      const res = await fetch(`https://127.0.0.1:${port}/metrics`, {
        client,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: res.status, text: await res.text() };
    };
    try {
      for (const sa of ["prometheus", "tenant"]) {
        await kubectl(["create", "serviceaccount", sa, "-n", ns.name]);
      }
      await kubectl([
        "create",
        "clusterrolebinding",
        `${ns.name}-metrics-reader`,
        "--clusterrole=kubetask-metrics-reader",
        `--serviceaccount=${ns.name}:prometheus`,
      ]);
      const token = async (sa: string) =>
        (await kubectl(["create", "token", sa, "-n", ns.name])).trim();
      const reader = await scrape(await token("prometheus"));
      const tenant = await scrape(await token("tenant"));
      const anonymous = await scrape();
      console.log(
        `/metrics: reader ${reader.status}, tenant ${tenant.status}, no token ${anonymous.status}`,
      );
      assert.equal(reader.status, 200, reader.text);
      assert.match(reader.text, /^kubetask_tasks\{namespace="/m, "it names namespaces");
      assert.equal(tenant.status, 403, tenant.text);
      assert.equal(anonymous.status, 401, anonymous.text);
      assert.doesNotMatch(tenant.text + anonymous.text, /kubetask_/, "nothing leaks in a refusal");
    } finally {
      client.close();
      await kubectl([
        "delete",
        "clusterrolebinding",
        `${ns.name}-metrics-reader`,
        "--ignore-not-found",
      ]).catch(() => {});
    }
    assert.ok(!op.exited(), "the operator is still running");
    assert.doesNotMatch(op.logs(), /forbidden/i, "no request was refused");
  } finally {
    await operator?.stop();
    await kubectl(["delete", "lease", leaseId, "-n", "kubetask-system", "--ignore-not-found"])
      .catch(() => {});
    await ns.cleanup();
    await installed.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
