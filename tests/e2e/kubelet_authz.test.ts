// The real node's kubelet decides like a real node's: it authenticates a
// client by certificate (cluster CA) or bearer token (TokenReview) and asks
// the apiserver whether that client may use the node (SubjectAccessReview).
// Replayed: with AlwaysAllow, any certificate of the cluster CA read every
// pod on the node (and could exec into them); now only the apiserver's own
// user, bound to system:kubelet-api-admin, gets through, and logs and exec
// through the apiserver still work.
import assert from "assert";
import { join } from "node:path";
import { readState } from "../../localcluster/cluster.ts";
import { pkiFiles, signCertificate } from "../../localcluster/pki.ts";
import { REAL_NODE_LABEL, REAL_NODE_LABEL_VALUE } from "../../localcluster/realnode/node_config.ts";
import { eventually, kubectl, testNamespace } from "../integration/env.ts";
import { ECHO_AGENT_IMAGE, onRealNode } from "./real_node.ts";

/** The HTTP status the kubelet answers for GET /pods with curl's extra arguments. */
async function kubeletStatus(url: string, curlArgs: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    // -k: the kubelet's serving certificate is its own self-signed one.
    args: ["-sk", "-o", "/dev/null", "-w", "%{http_code}", ...curlArgs, `${url}/pods`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

function podOnRealNode(ns: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "talker", namespace: ns },
    spec: {
      nodeSelector: { [REAL_NODE_LABEL]: REAL_NODE_LABEL_VALUE },
      tolerations: [{ key: REAL_NODE_LABEL, operator: "Exists", effect: "NoSchedule" }],
      containers: [{
        name: "main",
        image: ECHO_AGENT_IMAGE,
        imagePullPolicy: "Never",
        command: ["sh", "-c", "echo hello from the real node; exec sleep 600"],
      }],
    },
  });
}

Deno.test(
  onRealNode("e2e: the kubelet refuses anonymous and unauthorized clients; logs and exec work"),
  async () => {
    const state = await readState(Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test");
    assert.ok(state?.realNode);
    const port = JSON.parse(await Deno.readTextFile(join(state.dir, "kubelet", "config.json")))
      .port;
    const url = `https://${state.realNode.gateway}:${port}`;
    const pki = pkiFiles(join(state.dir, "pki"));
    const ns = await testNamespace("kubelet-authz");
    const scratch = await Deno.makeTempDir({ prefix: "kubetask-kubelet-" });
    try {
      const anonymous = await kubeletStatus(url, []);
      console.log(`anonymous GET /pods: ${anonymous}`);
      assert.equal(anonymous, "401");

      // Any certificate of the cluster CA authenticates; it must not authorize.
      const nobody = await signCertificate(
        scratch,
        "nobody",
        "/CN=kubetask-e2e-nobody",
        "extendedKeyUsage=clientAuth\n",
        { cert: pki.caCert, key: pki.caKey },
        1,
      );
      const byCert = await kubeletStatus(url, ["--cert", nobody.cert, "--key", nobody.key]);
      console.log(`GET /pods with a certificate of the cluster CA, no RBAC: ${byCert}`);
      assert.equal(byCert, "403");

      await kubectl(["create", "serviceaccount", "nobody", "-n", ns.name]);
      const token = (await kubectl(["create", "token", "nobody", "-n", ns.name])).trim();
      const byToken = await kubeletStatus(url, ["-H", `Authorization: Bearer ${token}`]);
      console.log(`GET /pods with a ServiceAccount token, no RBAC: ${byToken}`);
      assert.equal(byToken, "403");

      // The apiserver's own user is let through: logs and exec on the node's pods work.
      const apiserver = await kubeletStatus(url, [
        "--cert",
        pki.kubeletClientCert,
        "--key",
        pki.kubeletClientKey,
      ]);
      assert.equal(apiserver, "200", "the apiserver's kubelet client");
      await kubectl(["apply", "-f", "-"], podOnRealNode(ns.name));
      await kubectl([
        "wait",
        "-n",
        ns.name,
        "pod/talker",
        "--for=condition=Ready",
        "--timeout=120s",
      ]);
      const log = await eventually(
        "kubectl logs",
        async () => (await kubectl(["logs", "-n", ns.name, "talker"])).trim() || undefined,
      );
      assert.equal(log, "hello from the real node");
      const exec = await kubectl([
        "exec",
        "-n",
        ns.name,
        "talker",
        "--",
        "sh",
        "-c",
        "echo exec ok",
      ]);
      console.log(`kubectl logs: ${log}; kubectl exec: ${exec.trim()}`);
      assert.equal(exec.trim(), "exec ok");
    } finally {
      await ns.cleanup();
      await Deno.remove(scratch, { recursive: true });
    }
  },
);
