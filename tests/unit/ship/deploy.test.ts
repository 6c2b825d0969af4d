// deploy/: what `kubectl apply -k deploy/` installs, checked without a cluster.
import assert from "assert";
import { join } from "node:path";
import { parseConfig } from "../../../controllers/config.ts";
import { DEFAULT_GIT_PROXY_IMAGE } from "../../../controllers/task/git_proxy.ts";
import { deployDir, type Doc, flattenRules, kustomizeObjects, readDocs } from "./manifests.ts";

/** Exactly the calls the controllers make, one line per resource (see deploy/RBAC.md). */
const CONTROLLER_PERMISSIONS = [
  "kubetask.io/tasks: create,delete,get,list,watch",
  "kubetask.io/tasks/status: update",
  "kubetask.io/crontasks: get,list,watch",
  "kubetask.io/crontasks/status: update",
  "kubetask.io/agents: get,list,watch",
  "kubetask.io/agents/status: update",
  "kubetask.io/namespacebudgets: get,list,watch",
  "networking.k8s.io/networkpolicies: create,delete,get,list,patch,watch",
  "core/services: get",
  "kubetask.io/contexts: get,list,watch",
  "kubetask.io/contextgrants: get,list,watch",
  "kubetask.io/kubetaskconfigs: get,list,watch",
  "batch/jobs: create,delete,get,list,patch,watch",
  "kueue.x-k8s.io/workloads: get,list,watch",
  "core/pods: list,patch,watch",
  "core/configmaps: create,get,patch",
  "core/events: create,list,patch,watch",
].sort();

function find(objects: Doc[], kind: string, name: string): Doc {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `${kind}/${name} is installed`);
  return found;
}

Deno.test("kustomization.yaml lists every manifest in deploy/ and nothing missing", async () => {
  const [kustomization] = await readDocs(join(deployDir, "kustomization.yaml"));
  const listed = new Set<string>(kustomization.resources);
  const manifests: string[] = [];
  for await (const entry of Deno.readDir(deployDir)) {
    if (entry.isFile && entry.name.endsWith(".yaml") && entry.name !== "kustomization.yaml") {
      manifests.push(entry.name);
    }
  }
  assert.ok(manifests.length > 0);
  for (const name of manifests) {
    assert.ok(listed.has(name), `${name} is listed in kustomization.yaml`);
  }
  for (const name of listed) {
    assert.ok(await Deno.stat(join(deployDir, name)).catch(() => undefined), `${name} exists`);
  }
  assert.ok(listed.has("crds"), "the CRDs are installed too");
});

Deno.test("the operator's ClusterRole grants exactly the controllers' permissions, no Secrets", async () => {
  const objects = await kustomizeObjects();
  const role = find(objects, "ClusterRole", "kubetask-controller");
  assert.deepEqual(flattenRules(role.rules), CONTROLLER_PERMISSIONS);
  assert.ok(!JSON.stringify(objects.filter((o) => /Role/.test(o.kind))).includes("secrets"));

  const binding = find(objects, "ClusterRoleBinding", "kubetask-controller");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "kubetask-controller",
  });
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "kubetask-controller",
    namespace: "kubetask-system",
  }]);
});

Deno.test("/metrics: the operator may review tokens and access; a reader role for Prometheus, unbound", async () => {
  const objects = await kustomizeObjects();
  assert.deepEqual(flattenRules(find(objects, "ClusterRole", "kubetask-metrics-auth").rules), [
    "authentication.k8s.io/tokenreviews: create",
    "authorization.k8s.io/subjectaccessreviews: create",
  ]);
  const binding = find(objects, "ClusterRoleBinding", "kubetask-metrics-auth");
  assert.equal(binding.roleRef.name, "kubetask-metrics-auth");
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "kubetask-controller",
    namespace: "kubetask-system",
  }]);
  const reader = find(objects, "ClusterRole", "kubetask-metrics-reader");
  assert.deepEqual(flattenRules(reader.rules), ["url:/metrics: get"]);
  const bound = objects.filter((o) => /^(Cluster)?RoleBinding$/.test(o.kind)).map((o) =>
    o.roleRef.name
  );
  assert.ok(!bound.includes("kubetask-metrics-reader"), "bound by whoever runs Prometheus");
});

Deno.test("leader election gets leases only, and only in the operator namespace", async () => {
  const objects = await kustomizeObjects();
  const roles = objects.filter((o) => o.kind === "Role");
  assert.equal(roles.length, 1);
  assert.equal(roles[0].metadata.namespace, "kubetask-system");
  assert.deepEqual(flattenRules(roles[0].rules), [
    "coordination.k8s.io/leases: create,get,patch",
  ]);
  const binding = find(objects, "RoleBinding", roles[0].metadata.name);
  assert.equal(binding.roleRef.name, roles[0].metadata.name);
  assert.deepEqual(binding.subjects.map((s: Doc) => s.name), ["kubetask-controller"]);
});

Deno.test("the Deployment runs one hardened, leader-elected replica with HTTPS probes on 8443", async () => {
  const objects = await kustomizeObjects();
  const deployment = find(objects, "Deployment", "kubetask-controller");
  assert.equal(deployment.metadata.namespace, "kubetask-system");
  assert.equal(deployment.spec.replicas, 1);
  const pod = deployment.spec.template.spec;
  assert.equal(pod.serviceAccountName, "kubetask-controller");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");

  const [container] = pod.containers;
  assert.ok(container.args.includes("--leader-elect=true"));
  assert.ok(container.args.includes("--leader-election-namespace=$(POD_NAMESPACE)"));
  assert.ok(
    container.args.some((a: string) => a.startsWith("--metrics-addr=") && a.endsWith(":8443")),
  );
  assert.ok(!container.args.includes("--metrics-secure=false"), "metrics over HTTPS, authorized");
  assert.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  const port = container.ports.find((p: Doc) => p.containerPort === 8443);
  assert.ok(port);
  assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  for (const probe of [container.livenessProbe, container.readinessProbe]) {
    assert.ok(probe.httpGet.port === port.name || probe.httpGet.port === 8443);
    assert.equal(probe.httpGet.scheme, "HTTPS");
  }
  for (const kind of ["requests", "limits"]) {
    assert.ok(
      container.resources[kind].cpu && container.resources[kind].memory,
      `resources.${kind}`,
    );
  }

  const service = find(objects, "Service", "kubetask-controller-metrics");
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  assert.equal(service.spec.ports[0].targetPort, port.name);
});

Deno.test("everything namespaced lands in kubetask-system", async () => {
  const objects = await kustomizeObjects();
  find(objects, "Namespace", "kubetask-system");
  find(objects, "ServiceAccount", "kubetask-controller");
  // Agents stay within Pod Security baseline from apply time on (api/crdgen/agent_policy.ts).
  find(objects, "ValidatingAdmissionPolicyBinding", "kubetask-agent-baseline");
  const clusterScoped = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
  ];
  for (const o of objects.filter((o) => !clusterScoped.includes(o.kind))) {
    assert.equal(o.metadata.namespace, "kubetask-system", `${o.kind}/${o.metadata.name}`);
  }
  const crds = objects.filter((o) => o.kind === "CustomResourceDefinition").map((o) =>
    o.spec.names.kind
  );
  assert.deepEqual(crds.sort(), [
    "Agent",
    "Context",
    "ContextGrant",
    "CronTask",
    "KubeTaskConfig",
    "ModelProvider",
    "NamespaceBudget",
    "Task",
  ]);
});

Deno.test("the operator accepts the Deployment's arguments as written", async () => {
  const deployment = find(await kustomizeObjects(), "Deployment", "kubetask-controller");
  const [container] = deployment.spec.template.spec.containers;
  // The kubelet expands $(POD_NAMESPACE) from the env entry before the process starts.
  assert.ok(container.env.some((e: Doc) => e.name === "POD_NAMESPACE" && e.valueFrom.fieldRef));
  assert.ok(
    container.env.some((e: Doc) =>
      e.name === "SERVICE_ACCOUNT" && e.valueFrom.fieldRef.fieldPath === "spec.serviceAccountName"
    ),
  );
  const args = container.args.map((a: string) =>
    a.replace("$(POD_NAMESPACE)", "kubetask-system").replace(
      "$(SERVICE_ACCOUNT)",
      "kubetask-controller",
    )
  );
  assert.equal(
    args[0],
    "operator",
    "the subcommand comes first (the image's entrypoint is the executable)",
  );
  const config = parseConfig(args.slice(1), () => undefined);
  assert.equal(config.operatorServiceAccount, "kubetask-system/kubetask-controller");
  assert.equal(config.leaderElect, true);
  assert.equal(config.leaderElectionNamespace, "kubetask-system");
  assert.equal(config.metricsAddr.split(":").at(-1), "8443");
  assert.equal(config.metricsSecure, true);
  assert.deepEqual(config.namespaces, [], "watches every namespace");
  // The agent pods' Git proxy runs from this very image (and the code's default is it too).
  assert.equal(config.gitProxy.image, container.image);
  assert.equal(DEFAULT_GIT_PROXY_IMAGE, container.image);
});

Deno.test("user ClusterRoles: submitters run Tasks but cannot define Agents; neither reads Secrets", async () => {
  const objects = await kustomizeObjects();
  const submitter = flattenRules(find(objects, "ClusterRole", "kubetask-task-submitter").rules);
  const admin = flattenRules(find(objects, "ClusterRole", "kubetask-agent-admin").rules);
  const verbsOn = (rules: string[], resource: string) =>
    rules.find((r) => r.startsWith(`${resource}: `))?.split(": ")[1].split(",") ?? [];
  assert.ok(verbsOn(submitter, "kubetask.io/tasks").includes("create"));
  assert.ok(verbsOn(submitter, "core/pods/log").includes("get"));
  for (const kind of ["agents", "contexts", "contextgrants", "kubetaskconfigs"]) {
    assert.deepEqual(verbsOn(submitter, `kubetask.io/${kind}`), ["get", "list", "watch"], kind);
    assert.ok(verbsOn(admin, `kubetask.io/${kind}`).includes("create"), kind);
  }
  // A namespace's budget and the model providers are the platform's: no user role names them
  // (nor a wildcard that would). They are cluster-scoped, so no RoleBinding could grant them.
  for (const rules of [submitter, admin]) {
    for (const platform of ["namespacebudgets", "modelproviders", "*"]) {
      assert.ok(
        !rules.some((r) => r.startsWith(`kubetask.io/${platform}`)),
        `${platform}: ${rules.join("; ")}`,
      );
    }
  }
  // Neither can create pods or Jobs directly: Tasks and Agents are the way in.
  for (const rules of [submitter, admin]) {
    assert.ok(!verbsOn(rules, "core/pods").includes("create"));
    assert.ok(!verbsOn(rules, "batch/jobs").includes("create"));
  }
  // Not bound by the install: a platform team binds them per namespace.
  const bound = objects.filter((o) => /RoleBinding$/.test(o.kind)).map((o) => o.roleRef.name);
  assert.ok(!bound.includes("kubetask-task-submitter") && !bound.includes("kubetask-agent-admin"));
});
