// Service routing on the real node (service_routes.ts): each ClusterIP Service
// port goes to its ready endpoints, spread evenly, named targetPorts resolved
// through the EndpointSlice, the `kubernetes` Service to the relay, hostile
// values left out of the rules, the whole chain replaced in one restore.
import assert from "assert";
import {
  type KubeObject,
  noEndpointsChain,
  restoreText,
  serviceRoutes,
} from "../../../localcluster/realnode/service_routes.ts";

function service(name: string, clusterIP: string, ports: KubeObject[], ns = "team"): KubeObject {
  return { kind: "Service", metadata: { namespace: ns, name }, spec: { clusterIP, ports } };
}

function slice(
  service: string,
  ports: KubeObject[],
  endpoints: KubeObject[],
  ns = "team",
): KubeObject {
  return {
    kind: "EndpointSlice",
    metadata: { namespace: ns, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    ports,
    endpoints,
  };
}

const CHAIN = "KT-SVC-kt0123abcd";
const KUBERNETES = { clusterIP: "10.96.0.1", relay: "10.244.7.1:41234" };

Deno.test("service routes: a named targetPort resolved by the slice, ready endpoints only", () => {
  const routes = serviceRoutes(
    [service("web", "10.96.0.20", [{ name: "http", port: 80, targetPort: "http" }])],
    [
      slice("web", [{ name: "http", port: 8080, protocol: "TCP" }], [
        { addresses: ["10.244.7.5"], conditions: { ready: true } },
        { addresses: ["10.244.7.6"], conditions: { ready: false } },
        { addresses: ["10.244.7.7"] }, // unset: ready
      ]),
      // Another Service's slice and another namespace's are not this Service's.
      slice("db", [{ name: "http", port: 9999 }], [{ addresses: ["10.244.7.9"] }]),
      slice("web", [{ name: "http", port: 9999 }], [{ addresses: ["10.244.7.9"] }], "other"),
    ],
  );
  assert.deepEqual(routes, [{
    comment: "team/web:http",
    clusterIP: "10.96.0.20",
    protocol: "tcp",
    port: 80,
    endpoints: [{ ip: "10.244.7.5", port: 8080 }, { ip: "10.244.7.7", port: 8080 }],
  }]);
});

Deno.test("service routes: TCP and UDP ports of one Service, each its own rules", () => {
  const routes = serviceRoutes(
    [service("dns", "10.96.0.10", [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, protocol: "TCP" },
      { name: "sctp", port: 9, protocol: "SCTP" },
    ])],
    [slice("dns", [
      { name: "dns", port: 5353, protocol: "UDP" },
      { name: "dns-tcp", port: 5353, protocol: "TCP" },
    ], [{ addresses: ["10.244.7.5"] }])],
  );
  const text = restoreText(CHAIN, KUBERNETES, routes);
  assert.match(
    text,
    /-d 10\.96\.0\.10\/32 -p udp --dport 53 .* -j DNAT --to-destination 10\.244\.7\.5:5353/,
  );
  assert.match(
    text,
    /-d 10\.96\.0\.10\/32 -p tcp --dport 53 .* -j DNAT --to-destination 10\.244\.7\.5:5353/,
  );
  assert.doesNotMatch(text, /sctp/i);
});

Deno.test("service routes: three endpoints share the traffic evenly (1/3, then 1/2, then the rest)", () => {
  const routes = serviceRoutes(
    [service("web", "10.96.0.20", [{ port: 80 }])],
    [slice("web", [{ port: 8080 }], [
      { addresses: ["10.244.7.5"] },
      { addresses: ["10.244.7.6"] },
      { addresses: ["10.244.7.7"] },
    ])],
  );
  const dnat = restoreText(CHAIN, KUBERNETES, routes).split("\n").filter((l) =>
    l.includes("team/web:80")
  );
  assert.equal(dnat.length, 3);
  assert.match(dnat[0], /--probability 0\.3333333333 -j DNAT --to-destination 10\.244\.7\.5:8080$/);
  assert.match(dnat[1], /--probability 0\.5000000000 -j DNAT --to-destination 10\.244\.7\.6:8080$/);
  assert.doesNotMatch(dnat[2], /statistic/);
  assert.match(dnat[2], /-j DNAT --to-destination 10\.244\.7\.7:8080$/);
});

Deno.test("service routes: both chains in one restore, the kubernetes Service to the relay, an empty one refused", () => {
  const routes = serviceRoutes(
    [
      service("kubernetes", "10.96.0.1", [{ name: "https", port: 443 }], "default"),
      service("headless", "None", [{ port: 80 }]),
      service("empty", "10.96.0.30", [{ port: 80 }]),
    ],
    [slice(
      "kubernetes",
      [{ name: "https", port: 6443 }],
      [{ addresses: ["127.0.0.1"] }],
      "default",
    )],
  );
  const lines = restoreText(CHAIN, KUBERNETES, routes).trimEnd().split("\n");
  // Declaring a chain empties it: no rule of an earlier restore survives, no other chain named.
  const NOEP = noEndpointsChain(CHAIN);
  const filter = lines.indexOf("*filter");
  assert.deepEqual(lines.slice(0, 2), ["*nat", `:${CHAIN} - [0:0]`]);
  assert.deepEqual(lines.slice(filter - 1, filter + 2), ["COMMIT", "*filter", `:${NOEP} - [0:0]`]);
  assert.equal(lines.at(-1), "COMMIT");
  const nat = lines.slice(0, filter).filter((l) => l.startsWith("-A"));
  // The apiserver's loopback endpoint is never a target; a port with no endpoint has no DNAT.
  assert.deepEqual(nat, [
    `-A ${CHAIN} -d 10.96.0.1/32 -p tcp --dport 443 -m comment --comment "default/kubernetes:https" ` +
    "-j DNAT --to-destination 10.244.7.1:41234",
  ]);
  // It is refused instead (connection refused at once, as kube-proxy does), in our filter chain.
  assert.deepEqual(lines.slice(filter).filter((l) => l.startsWith("-A")), [
    `-A ${NOEP} -d 10.96.0.30/32 -p tcp --dport 80 -m comment --comment "team/empty:80 has no endpoints" ` +
    "-j REJECT",
  ]);
});

Deno.test("service routes: hostile values never reach a rule", () => {
  const injected = "1.2.3.4 -j ACCEPT\n-A PREROUTING -j ACCEPT";
  const routes = serviceRoutes(
    [
      service("web", injected, [{ port: 80 }]),
      service('x" -j ACCEPT', "10.96.0.21", [{ port: 80 }]),
      service("ok", "10.96.0.22", [
        { name: 'http" -j ACCEPT', port: 80 },
        { name: "big", port: 70000 },
        { name: "fine", port: 81 },
      ]),
    ],
    [slice("ok", [{ name: "fine", port: "8080; rm" }, { name: "fine", port: 8081 }], [
      { addresses: [injected, "10.244.7.300", "10.244.7.5"] },
    ])],
  );
  assert.deepEqual(routes.map((r) => r.comment), ["team/ok:fine"]);
  assert.deepEqual(routes[0].endpoints, []); // the first matching slice port is not a number
  const text = restoreText(CHAIN, KUBERNETES, routes);
  assert.doesNotMatch(text, /ACCEPT|rm|300/);
});
