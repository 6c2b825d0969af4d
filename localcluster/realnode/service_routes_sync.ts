// Keeps a real node's Service chain (service_routes.ts) in step with the
// cluster: polls Services and EndpointSlices once a second and, when the
// rules differ from the last ones applied, replaces the chain in one
// `iptables-restore --noflush`. A poll rather than a watch: dev tooling, one
// kubectl call a second, no reconnect logic to get wrong.
//
// A process of its own (started beside the relay by apiserver_service.ts,
// stopped with it) rather than inside the relay or `cluster up`: it needs
// to run kubectl and iptables-restore, which the relay (network only) should
// not be allowed, and `cluster up`'s process is not the only owner of a
// cluster (tests and demos start clusters in-process).
//
//   deno run --allow-run=KUBECTL,iptables-restore --allow-read=KUBECONFIG \
//     service_routes_sync.ts KUBECTL KUBECONFIG CHAIN RELAY TAG
// with RELAY the relay's host:port; TAG, not read, names the cluster for
// whoever looks for its processes.
import { runCommand } from "../process.ts";
import { type KubeObject, restoreText, serviceRoutes } from "./service_routes.ts";

if (import.meta.main) {
  const [kubectlBin, kubeconfig, chain, relay] = Deno.args;
  let applied = "";
  while (true) {
    try {
      const list = JSON.parse(
        await runCommand(kubectlBin, [
          "--kubeconfig",
          kubeconfig,
          "get",
          "services,endpointslices",
          "--all-namespaces",
          "-o",
          "json",
        ]),
      );
      const items: KubeObject[] = Array.isArray(list.items) ? list.items : [];
      const services = items.filter((o) => o.kind === "Service");
      const slices = items.filter((o) => o.kind === "EndpointSlice");
      const kubernetes = services.find((s) =>
        s.metadata?.namespace === "default" && s.metadata?.name === "kubernetes"
      );
      const routes = serviceRoutes(services, slices);
      const text = restoreText(chain, { clusterIP: kubernetes?.spec?.clusterIP, relay }, routes);
      if (kubernetes && text !== applied) {
        await runCommand("iptables-restore", ["-w", "--noflush"], { stdin: text });
        applied = text;
        const endpoints = routes.reduce((n, r) => n + r.endpoints.length, 0);
        console.error(`applied ${routes.length} service ports, ${endpoints} endpoints`);
      }
    } catch (err) {
      // The apiserver restarting (a test), a rule refused: the next poll tries again.
      console.error(String(err));
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
