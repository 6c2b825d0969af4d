// Service routing on the real node (localcluster/realnode/service_routes.ts):
// a pod reaches another pod's Service at its ClusterIP (the named targetPort
// resolved through the EndpointSlice), and when the Service's endpoints
// change, the route follows; with none, a connection is refused at once.
import { eventually, kubectl, testNamespace } from "../integration/env.ts";
import { REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node_config.ts";
import { ECHO_AGENT_IMAGE, onRealNode } from "./real_node.ts";

const SECURITY = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
  runAsUser: 65532,
};

function pod(name: string, labels: Record<string, string>, script: string, port?: number) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: {
      ...REAL_NODE_SCHEDULING,
      automountServiceAccountToken: false,
      containers: [{
        name: "main",
        image: ECHO_AGENT_IMAGE,
        command: ["sh", "-c", script],
        ports: port ? [{ name: "http", containerPort: port }] : [],
        securityContext: SECURITY,
      }],
    },
  };
}

function server(name: string) {
  return pod(
    name,
    { app: name },
    `mkdir -p /tmp/www && echo "from ${name}" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`,
    8080,
  );
}

Deno.test(
  onRealNode(
    "service routes: a pod reaches a Service's ClusterIP, follows its endpoints, is refused without any",
  ),
  async () => {
    const ns = await testNamespace("svc-routes");
    try {
      const apply = (o: unknown) => kubectl(["apply", "-n", ns.name, "-f", "-"], JSON.stringify(o));
      await apply(server("a"));
      await apply(server("b"));
      await apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web" },
        spec: { selector: { app: "a" }, ports: [{ name: "web", port: 80, targetPort: "http" }] },
      });
      const ip = (await kubectl([
        "get",
        "service",
        "web",
        "-n",
        ns.name,
        "-o",
        "jsonpath={.spec.clusterIP}",
      ])).trim();
      // busybox wget's own -T crashes once it expires: timeout(1) instead.
      await apply(pod(
        "client",
        {},
        `while true; do echo "got: $(timeout 3 wget -q -O - http://${ip}/ 2>&1)"; sleep 1; done`,
      ));
      const lastLine = async () => {
        const log = await kubectl(["logs", "client", "-n", ns.name, "--tail=1"]);
        return log.trim();
      };
      const first = await eventually("the client reaching pod a at the ClusterIP", async () => {
        const line = await lastLine();
        return line === "got: from a" && line;
      }, 120_000);
      console.error(`[svc] ${ip}:80 -> ${first}`);
      await kubectl([
        "patch",
        "service",
        "web",
        "-n",
        ns.name,
        "-p",
        '{"spec":{"selector":{"app":"b"}}}',
      ]);
      const second = await eventually("the route following the Service to pod b", async () => {
        const line = await lastLine();
        return line === "got: from b" && line;
      }, 60_000);
      console.error(`[svc] after the selector change: ${ip}:80 -> ${second}`);
      // No ready endpoint: refused at once, as kube-proxy does, rather than a connect left to
      // time out (the client's 3 s would end it with nothing said).
      await kubectl([
        "patch",
        "service",
        "web",
        "-n",
        ns.name,
        "-p",
        '{"spec":{"selector":{"app":"nobody"}}}',
      ]);
      const refused = await eventually("a Service without endpoints refusing", async () => {
        const line = await lastLine();
        return /Connection refused/.test(line) && line;
      }, 60_000);
      console.error(`[svc] with no endpoints: ${ip}:80 -> ${refused}`);
    } finally {
      await ns.cleanup();
    }
  },
);
