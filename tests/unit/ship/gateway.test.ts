// The model gateway's deployed form, checked without a cluster: the kustomize
// Component deploy/gateway/ (and the operator wired to it) and the Helm chart's
// gateway templates grant exactly the calls gateway/ makes, the same in both.
import assert from "assert";
import { join } from "node:path";
import { parse } from "yaml";
import { parseConfig } from "../../../controllers/config.ts";
import { parseGatewayConfig } from "../../../gateway/main.ts";
import { GATEWAY_DATA_DIR } from "../../../deploy/compile.ts";
import {
  componentParts,
  deployDir,
  type Doc,
  flattenRules,
  kustomizeObjects,
  kustomizeWithComponent,
} from "./manifests.ts";

const componentDir = join(deployDir, "gateway");
const chartDir = join(deployDir, "helm", "kubetask");

/**
 * Exactly what the gateway calls, one line per resource (see deploy/RBAC.md):
 * cluster-scoped reviews (agent tokens, transcript readers, /metrics scrapers)
 * ModelProviders read by name (gateway/providers.ts), a namespace's NamespaceBudget
 * read by name and its spend count written (gateway/namespace_budgets.ts)...
 */
export const GATEWAY_CLUSTER_PERMISSIONS = [
  "authentication.k8s.io/tokenreviews: create",
  "authorization.k8s.io/subjectaccessreviews: create",
  "kubetask.io/modelproviders: get",
  "kubetask.io/namespacebudgets: get",
  "kubetask.io/namespacebudgets/status: update",
].sort();

/**
 * ...in the Tasks' namespaces, the identity chain read by name (gateway/identity.ts),
 * Tasks got and listed (tasks.ts: transcripts and their sweep), status.usage patched...
 */
export const GATEWAY_TASK_PERMISSIONS = [
  "core/pods: get",
  "batch/jobs: get",
  "kubetask.io/tasks: get,list",
  "kubetask.io/tasks/status: patch",
  "kubetask.io/agents: get",
].sort();

/** ...and the providers' keys, in its own namespace only. */
export const GATEWAY_SECRET_PERMISSIONS = ["core/secrets: get"];

/** Users reach the transcript endpoint through the apiserver's proxy to this one Service port. */
export const TRANSCRIPT_READER_PERMISSIONS = [
  "core/services/proxy[https:kubetask-gateway:https]: get",
];

const GATEWAY_ACCOUNT = {
  kind: "ServiceAccount",
  name: "kubetask-gateway",
  namespace: "kubetask-system",
};

function find(objects: Doc[], kind: string, name: string): Doc {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `${kind}/${name} is installed`);
  return found;
}

/** Every rule granted to a subject, with where: "ClusterRole" or "Role@namespace". */
function grantsTo(objects: Doc[], subject: Doc): { scope: string; rules: string[] }[] {
  const out = [];
  for (const binding of objects.filter((o) => /^(Cluster)?RoleBinding$/.test(o.kind))) {
    const bound = (binding.subjects ?? []).some((s: Doc) =>
      s.kind === subject.kind && s.name === subject.name &&
      (s.namespace ?? undefined) === (subject.namespace ?? undefined)
    );
    if (!bound) continue;
    const role = find(
      objects,
      binding.roleRef.kind,
      binding.roleRef.name,
    );
    out.push({
      scope: binding.kind === "ClusterRoleBinding" ? "cluster" : `${binding.metadata.namespace}`,
      rules: flattenRules(role.rules),
    });
  }
  return out;
}

Deno.test("deploy/gateway is a Component of its own: deploy/ alone installs no gateway", async () => {
  const { objects } = await componentParts(componentDir);
  assert.ok(objects.length > 0);
  const base = await kustomizeObjects();
  assert.ok(!base.some((o) => /gateway/.test(o.metadata?.name ?? "")), "opt-in");
});

Deno.test("kustomize: the gateway's ServiceAccount gets exactly its calls, Secrets only in its namespace", async () => {
  const objects = await kustomizeWithComponent(componentDir);
  find(objects, "ServiceAccount", "kubetask-gateway");
  const grants = grantsTo(objects, GATEWAY_ACCOUNT);
  assert.deepEqual(
    grants.map((g) => g.scope).sort(),
    ["cluster", "cluster", "kubetask-system"],
  );
  assert.deepEqual(flattenRules(find(objects, "ClusterRole", "kubetask-gateway").rules), [
    ...GATEWAY_CLUSTER_PERMISSIONS,
  ]);
  assert.deepEqual(flattenRules(find(objects, "ClusterRole", "kubetask-gateway-tasks").rules), [
    ...GATEWAY_TASK_PERMISSIONS,
  ]);
  const secrets = find(objects, "Role", "kubetask-gateway-secrets");
  assert.equal(secrets.metadata.namespace, "kubetask-system");
  assert.deepEqual(flattenRules(secrets.rules), GATEWAY_SECRET_PERMISSIONS);
  // Nothing cluster-wide ever names Secrets, and the gateway is granted no verb beyond these.
  for (const g of grants.filter((g) => g.scope === "cluster")) {
    assert.ok(!g.rules.some((r) => r.includes("secrets")), g.rules.join("; "));
  }
  assert.deepEqual(
    grants.flatMap((g) => g.rules).sort(),
    [
      ...GATEWAY_CLUSTER_PERMISSIONS,
      ...GATEWAY_TASK_PERMISSIONS,
      ...GATEWAY_SECRET_PERMISSIONS,
    ].sort(),
  );
  // The operator still reads no Secret.
  const operator = grantsTo(objects, { ...GATEWAY_ACCOUNT, name: "kubetask-controller" });
  assert.ok(!operator.flatMap((g) => g.rules).some((r) => r.includes("secrets")));
});

Deno.test("kustomize: transcript readers may reach the gateway's https port through the proxy, nothing more", async () => {
  const objects = await kustomizeWithComponent(componentDir);
  const reader = find(objects, "Role", "kubetask-gateway-transcript-reader");
  assert.equal(reader.metadata.namespace, "kubetask-system");
  assert.deepEqual(flattenRules(reader.rules), TRANSCRIPT_READER_PERMISSIONS);
  const binding = find(objects, "RoleBinding", "kubetask-gateway-transcript-reader");
  assert.equal(binding.metadata.namespace, "kubetask-system");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Role",
    name: "kubetask-gateway-transcript-reader",
  });
  assert.deepEqual(binding.subjects, [{
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Group",
    name: "system:authenticated",
  }]);
  // The CLI's defaults (cli/transcript.ts) name this Service and port.
  const cli = await Deno.readTextFile(join(deployDir, "..", "cli", "transcript.ts"));
  assert.match(cli, /"gateway-namespace"\] \?\? "kubetask-system"/);
  assert.match(cli, /"gateway-service"\] \?\? "kubetask-gateway"/);
  assert.match(cli, /`https:\$\{encodeURIComponent\(service\)\}:https\/proxy/);
});

Deno.test("ModelProviders: a reader ClusterRole for who writes Agents, installed unbound", async () => {
  const objects = await kustomizeObjects();
  const reader = find(objects, "ClusterRole", "kubetask-modelprovider-reader");
  assert.deepEqual(flattenRules(reader.rules), ["kubetask.io/modelproviders: get,list,watch"]);
  const bound = objects.filter((o) => /RoleBinding$/.test(o.kind)).map((o) => o.roleRef.name);
  assert.ok(!bound.includes("kubetask-modelprovider-reader"));
});

function gatewayPod(objects: Doc[]): Doc {
  return find(objects, "Deployment", "kubetask-gateway").spec.template.spec;
}

Deno.test("kustomize: the gateway runs the operator's image, hardened, one replica, with its volume and certificate", async () => {
  const objects = await kustomizeWithComponent(componentDir);
  const deployment = find(objects, "Deployment", "kubetask-gateway");
  assert.equal(deployment.metadata.namespace, "kubetask-system");
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(deployment.spec.strategy.type, "Recreate", "one pod holds the RWO volume");
  const pod = gatewayPod(objects);
  assert.equal(pod.serviceAccountName, "kubetask-gateway");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.fsGroup, 65532, "the volume is writable");
  assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
  const [container] = pod.containers;
  const operator = find(objects, "Deployment", "kubetask-controller").spec.template.spec
    .containers[0];
  assert.equal(container.image, operator.image);
  // The image's entrypoint is the executable; the subcommand is the first argument.
  assert.equal(container.command, undefined);
  assert.equal(container.args[0], "gateway");
  assert.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  for (
    const [probe, path] of [[container.livenessProbe, "/healthz"], [
      container.readinessProbe,
      "/readyz",
    ]]
  ) {
    assert.deepEqual(probe.httpGet, { path, port: "https", scheme: "HTTPS" });
  }
  assert.ok(container.resources.requests.cpu && container.resources.limits.memory);

  // The arguments parse as the gateway parses them, with the kubelet's $(POD_NAMESPACE).
  const args = container.args.slice(1).map((a: string) =>
    a.replace("$(POD_NAMESPACE)", "kubetask-system")
  );
  const config = parseGatewayConfig(args, () => undefined);
  assert.equal(config.namespace, "kubetask-system");
  assert.equal(config.listen.port, 8443);
  assert.equal(config.audience, "kubetask-gateway");
  const mounts = new Map<string, Doc>(container.volumeMounts.map((m: Doc) => [m.name, m]));
  const volumes = new Map<string, Doc>(pod.volumes.map((v: Doc) => [v.name, v]));
  const mountOf = (file: string) =>
    container.volumeMounts.find((m: Doc) => file.startsWith(m.mountPath + "/"));
  // The transcripts are on the claim, the certificate from the TLS Secret.
  assert.equal(
    volumes.get(mountOf(config.transcriptDir).name)!.persistentVolumeClaim.claimName,
    "kubetask-gateway-transcripts",
  );
  for (const file of [config.tls!.certFile, config.tls!.keyFile]) {
    const volume = volumes.get(mountOf(file).name)!;
    assert.equal(volume.secret.secretName, "kubetask-gateway-tls");
    assert.ok(volume.secret.items.some((i: Doc) => file.endsWith("/" + i.path)), file);
  }
  assert.equal((mounts.get("tmp") as Doc).mountPath, "/tmp");
  const pvc = find(objects, "PersistentVolumeClaim", "kubetask-gateway-transcripts");
  assert.deepEqual(pvc.spec.accessModes, ["ReadWriteOnce"]);
  assert.ok(pvc.spec.resources.requests.storage);

  const service = find(objects, "Service", "kubetask-gateway");
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  assert.deepEqual(service.spec.ports, [{
    name: "https",
    port: 8443,
    targetPort: "https",
    protocol: "TCP",
  }]);
  assert.equal(container.ports[0].name, "https");
  assert.equal(container.ports[0].containerPort, config.listen.port);
  // The gateway's pods are not the operator's Service's, and the other way round.
  const operatorService = find(objects, "Service", "kubetask-controller-metrics");
  assert.notDeepEqual(operatorService.spec.selector, service.spec.selector);
});

Deno.test("kustomize: the operator is told the gateway's URL, CA (ca.crt alone) and Service", async () => {
  const objects = await kustomizeWithComponent(componentDir);
  const pod = find(objects, "Deployment", "kubetask-controller").spec.template.spec;
  const [container] = pod.containers;
  const args = container.args.map((a: string) =>
    a.replace("$(POD_NAMESPACE)", "kubetask-system").replace(
      "$(SERVICE_ACCOUNT)",
      "kubetask-controller",
    )
  );
  assert.equal(args[0], "operator", "the subcommand comes first");
  const config = parseConfig(args.slice(1), () => undefined);
  assert.ok(config.gateway, "the operator knows the gateway");
  const service = find(objects, "Service", "kubetask-gateway");
  assert.equal(
    config.gateway.url,
    `https://${service.metadata.name}.${service.metadata.namespace}.svc:${
      service.spec.ports[0].port
    }`,
  );
  assert.deepEqual(config.gateway.egress, {
    service: { namespace: "kubetask-system", name: "kubetask-gateway" },
  });
  assert.equal(config.gateway.audience, "kubetask-gateway");
  const mount = container.volumeMounts.find((m: Doc) =>
    config.gateway!.caFile.startsWith(m.mountPath + "/")
  );
  assert.ok(mount?.readOnly);
  const volume = pod.volumes.find((v: Doc) => v.name === mount.name);
  assert.deepEqual(volume.secret, {
    secretName: "kubetask-gateway-tls",
    items: [{ key: "ca.crt", path: "ca.crt" }],
  }, "the operator's pod holds the CA, never the gateway's key");
  // deploy/ alone leaves the operator without a gateway.
  const plain = find(await kustomizeObjects(), "Deployment", "kubetask-controller");
  assert.ok(!plain.spec.template.spec.containers[0].args.some((a: string) => /gateway/.test(a)));
});

/** A named `define` block of _helpers.tpl, parsed as the YAML rule list it is. */
async function helperRules(name: string): Promise<Doc[]> {
  const helpers = await Deno.readTextFile(join(chartDir, "templates", "_helpers.tpl"));
  const block = helpers.match(
    new RegExp(
      `\\{\\{-? define "${name.replace(".", "\\.")}" -?\\}\\}\\n([\\s\\S]*?)\\{\\{-? end -?\\}\\}`,
    ),
  );
  assert.ok(block, `${name} is defined`);
  return parse(block[1]);
}

Deno.test("helm: the gateway's rules are deploy/gateway's, rule for rule", async () => {
  const objects = await kustomizeWithComponent(componentDir);
  assert.deepEqual(
    flattenRules(await helperRules("kubetask.gatewayClusterRules")),
    flattenRules(find(objects, "ClusterRole", "kubetask-gateway").rules),
  );
  assert.deepEqual(
    flattenRules(await helperRules("kubetask.gatewayTaskRules")),
    flattenRules(find(objects, "ClusterRole", "kubetask-gateway-tasks").rules),
  );
  const template = await Deno.readTextFile(join(chartDir, "templates", "gateway-rbac.yaml"));
  for (const role of ["kubetask-gateway-secrets", "kubetask-gateway-transcript-reader"]) {
    const chartRole = template.match(
      new RegExp(
        `kind: Role\\nmetadata:\\n  name: ${role}\\n[\\s\\S]*?\\nrules:\\n([\\s\\S]*?)(?:\\n---|\\n\\{\\{)`,
      ),
    );
    assert.ok(chartRole, role);
    assert.deepEqual(
      flattenRules(parse(chartRole[1])),
      flattenRules(find(objects, "Role", role).rules),
      role,
    );
  }
  // A scoped install's operator reads the gateway's Service, that one by name.
  const operatorRole = template.match(
    /kind: Role\nmetadata:\n {2}name: kubetask-controller-gateway-service\n[\s\S]*?\nrules:\n([\s\S]*?)\n---/,
  );
  assert.ok(operatorRole, "kubetask-controller-gateway-service");
  assert.deepEqual(flattenRules(parse(operatorRole[1])), ["core/services[kubetask-gateway]: get"]);
  const values = parse(await Deno.readTextFile(join(chartDir, "values.yaml")));
  assert.equal(values.gateway.enabled, false, "opt-in");
  assert.deepEqual(
    values.gateway.transcripts.readers,
    find(objects, "RoleBinding", "kubetask-gateway-transcript-reader").subjects,
  );
});

Deno.test("the gateway's transcripts are where the compiled binary may write, in both installers", async () => {
  for (const objects of [await kustomizeWithComponent(componentDir)]) {
    const [container] = gatewayPod(objects).containers;
    const config = parseGatewayConfig(
      container.args.slice(1).map((a: string) => a.replace("$(POD_NAMESPACE)", "ns")),
      () => undefined,
    );
    assert.ok(config.transcriptDir.startsWith(GATEWAY_DATA_DIR + "/"), config.transcriptDir);
    const mount = container.volumeMounts.find((m: Doc) => m.name === "transcripts");
    assert.equal(mount.mountPath, GATEWAY_DATA_DIR);
  }
  const template = await Deno.readTextFile(join(chartDir, "templates", "gateway.yaml"));
  assert.ok(template.includes(`--transcript-dir=${GATEWAY_DATA_DIR}/transcripts`));
  assert.ok(template.includes(`mountPath: ${GATEWAY_DATA_DIR}\n`));
});
