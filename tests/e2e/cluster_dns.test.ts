// Cluster DNS on the real node (localcluster/realnode/cluster_dns.ts): the
// kubelet gives every pod the kube-dns Service as its nameserver and the
// namespace's search path; CoreDNS answers for Services by full name and, through
// that search path, by short name; a name the cluster does not have is not found.
//
// The lookups go through glibc's resolver (node's dns.lookup is getaddrinfo),
// which applies the search path as any program in a pod would, to the kube-dns
// Service's ClusterIP the kubelet wrote (routed by service_routes.ts).
import assert from "assert";
import { kubectl, testNamespace } from "../integration/env.ts";
import { CLUSTER_DNS_IP, KUBERNETES_SERVICE_IP } from "../../localcluster/pki.ts";
import { clusterDnsReady, onRealNode, runPodOnce } from "./real_node.ts";

/** Looks each name up as a program would (getaddrinfo), one "name address|error" line each. */
function lookups(names: string[]): string {
  const js = `for (const n of ${JSON.stringify(names)}) ` +
    `require("dns").lookup(n, { family: 4 }, (e, a) => console.log(n, e ? e.code : a))`;
  return `node -e '${js}'`;
}

Deno.test(onRealNode("e2e: cluster DNS resolves Services by full and short name"), async () => {
  await clusterDnsReady();
  const ns = await testNamespace("dns");
  try {
    await kubectl(["create", "service", "clusterip", "web", "--tcp=80:80", "-n", ns.name]);
    const webIP = (await kubectl([
      "get",
      "service",
      "-n",
      ns.name,
      "web",
      "-o",
      "jsonpath={.spec.clusterIP}",
    ])).trim();

    const names = [
      "kubernetes.default.svc.cluster.local",
      "kubernetes.default",
      "web",
      `missing.${ns.name}.svc.cluster.local`,
    ];
    const script = `cat /etc/resolv.conf; busybox nslookup kubernetes.default.svc.cluster.local; ${
      lookups(names)
    }`;
    const log = await runPodOnce(ns.name, "resolver", ["sh", "-c", script]);
    assert.match(log, new RegExp(`^nameserver ${CLUSTER_DNS_IP.replaceAll(".", "\\.")}$`, "m"));
    const search = `${ns.name}.svc.cluster.local svc.cluster.local cluster.local`;
    assert.match(log, new RegExp(`^search ${search}$`, "m"));
    assert.match(log, /^options ndots:5$/m);

    const line = (name: string, answer: string) =>
      new RegExp(`^${name.replaceAll(".", "\\.")} ${answer.replaceAll(".", "\\.")}$`, "m");
    assert.match(log, line("kubernetes.default.svc.cluster.local", KUBERNETES_SERVICE_IP));
    assert.match(log, line("kubernetes.default", KUBERNETES_SERVICE_IP), "by the search path");
    assert.match(log, line("web", webIP), "a Service of its own namespace by short name");
    assert.match(log, line(names[3], "ENOTFOUND"), "a Service the cluster does not have");
  } finally {
    await ns.cleanup();
  }
});
