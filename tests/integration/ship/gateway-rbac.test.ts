// The model gateway as each installer deploys it, on the local control plane:
// the apiserver accepts every object, and `kubectl auth can-i --as` the
// gateway's ServiceAccount answers yes to exactly the calls gateway/ makes and
// no to the neighbours of each (another verb, another namespace, Secrets
// anywhere but its own namespace or listed at all). The same for the Helm
// chart (cluster-wide and scoped to some namespaces) and for the kustomize
// Component. The generated certificate survives `helm upgrade`. And the
// gateway itself, acting as the installed ServiceAccount, serves a Task, and
// its transcript is read with the CLI through the apiserver's service proxy.
import assert from "assert";
import { join, relative } from "node:path";
import { chart, type Doc, helm, named, render } from "./helm.ts";
import { createCa, signCertificate } from "../../../localcluster/pki.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { deployDir } from "../../unit/ship/manifests.ts";
import { AGENT_SA, type Json, TaskHarness } from "../task/harness.ts";
import { DEFAULT_JOB_SETTINGS } from "../../../controllers/task/job.ts";
import { AUDIENCE, type GatewayWorld, mintToken, startGatewayWorld } from "../gateway/world.ts";
import { impersonatingKubeconfig, installDeploy } from "./install.ts";
import { selfSignedCertificate } from "../../../controllers/runtime/self_signed.ts";
import { cli } from "../cli/run_cli.ts";
import { parseConfig } from "../../../controllers/config.ts";
import { parseGatewayConfig } from "../../../gateway/main.ts";
import { parse, stringify } from "yaml";

/** The test cluster's kubeconfig with its user replaced by a bearer token. */
async function tokenKubeconfig(dir: string, token: string): Promise<string> {
  const source = Deno.env.get("KUBECONFIG")!.split(":")[0];
  const config = parse(await Deno.readTextFile(source));
  for (const cluster of config.clusters) {
    const ca = cluster.cluster["certificate-authority"];
    if (ca && !ca.startsWith("/")) {
      cluster.cluster["certificate-authority"] = join(source, "..", ca);
    }
  }
  const context = config.contexts.find((c: Doc) => c.name === config["current-context"]);
  config.users = [{ name: context.context.user, user: { token } }];
  const path = join(dir, `token-${crypto.randomUUID().slice(0, 8)}.kubeconfig`);
  await Deno.writeTextFile(path, stringify(config));
  return path;
}

/** `kubectl auth can-i` as `user` (yes: true, no: false; anything else fails the test). */
async function canI(user: string, args: string[]): Promise<boolean> {
  const kubeconfig = Deno.env.get("KUBECONFIG");
  assert.ok(kubeconfig, "KUBECONFIG is set (deno task test, or deno task cluster env)");
  const out = await new Deno.Command("kubectl", {
    args: ["--kubeconfig", kubeconfig, "auth", "can-i", ...args, `--as=${user}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const answer = new TextDecoder().decode(out.stdout).trim();
  if (answer === "yes" && out.code === 0) return true;
  if (answer.startsWith("no") && out.code === 1) return false;
  throw new Error(`can-i ${args.join(" ")}: ${answer} ${new TextDecoder().decode(out.stderr)}`);
}

type Check = [allowed: boolean, ...args: string[]];

/** Every check, all reported at once: "yes/no expected, got ..." per failing line. */
async function expectAnswers(user: string, checks: Check[]): Promise<void> {
  const wrong: string[] = [];
  for (const [allowed, ...args] of checks) {
    const got = await canI(user, args);
    if (got !== allowed) wrong.push(`${args.join(" ")}: expected ${allowed ? "yes" : "no"}`);
  }
  assert.deepEqual(wrong, [], `${user}:\n${wrong.join("\n")}`);
}

/** What the gateway in `gatewayNs` may do in a Task namespace `tenant`, and may not anywhere. */
function gatewayChecks(gatewayNs: string, tenant: string, elsewhere: string): Check[] {
  return [
    // Cluster-scoped: the reviews, ModelProviders by name.
    [true, "create", "tokenreviews.authentication.k8s.io"],
    [true, "create", "subjectaccessreviews.authorization.k8s.io"],
    [true, "get", "modelproviders.kubetask.io/anthropic"],
    [false, "list", "modelproviders.kubetask.io"],
    [false, "watch", "modelproviders.kubetask.io"],
    [false, "create", "modelproviders.kubetask.io"],
    // Namespace budgets: read by name, the spend count written; never the limits.
    [true, "get", "namespacebudgets.kubetask.io/team-a"],
    [true, "update", "namespacebudgets.kubetask.io/team-a", "--subresource=status"],
    [false, "list", "namespacebudgets.kubetask.io"],
    [false, "update", "namespacebudgets.kubetask.io/team-a"],
    [false, "patch", "namespacebudgets.kubetask.io/team-a"],
    // The identity chain and status writes, where Tasks run.
    [true, "get", "pods", "-n", tenant],
    [true, "get", "jobs.batch", "-n", tenant],
    [true, "get", "tasks.kubetask.io", "-n", tenant],
    [true, "list", "tasks.kubetask.io", "-n", tenant],
    [true, "patch", "tasks.kubetask.io", "--subresource=status", "-n", tenant],
    [true, "get", "agents.kubetask.io", "-n", tenant],
    [false, "list", "pods", "-n", tenant],
    [false, "create", "pods", "-n", tenant],
    [false, "delete", "pods", "-n", tenant],
    [false, "get", "pods", "--subresource=log", "-n", tenant],
    [false, "list", "jobs.batch", "-n", tenant],
    [false, "watch", "tasks.kubetask.io", "-n", tenant],
    [false, "create", "tasks.kubetask.io", "-n", tenant],
    [false, "patch", "tasks.kubetask.io", "-n", tenant],
    [false, "update", "tasks.kubetask.io", "--subresource=status", "-n", tenant],
    [false, "list", "agents.kubetask.io", "-n", tenant],
    [false, "get", "configmaps", "-n", tenant],
    [false, "create", "events", "-n", tenant],
    // Secrets: by name in its own namespace, nowhere else, never listed.
    [true, "get", "secrets/anthropic-key", "-n", gatewayNs],
    [false, "list", "secrets", "-n", gatewayNs],
    [false, "watch", "secrets", "-n", gatewayNs],
    [false, "create", "secrets", "-n", gatewayNs],
    [false, "update", "secrets", "-n", gatewayNs],
    [false, "get", "secrets", "-n", tenant],
    [false, "get", "secrets", "-n", elsewhere],
    [false, "get", "secrets", "--all-namespaces"],
    [false, "list", "secrets", "--all-namespaces"],
    // Nothing that would widen its own access.
    [false, "create", "rolebindings.rbac.authorization.k8s.io", "-n", gatewayNs],
    [false, "impersonate", "serviceaccounts", "-n", tenant],
    [false, "create", "serviceaccounts", "--subresource=token", "-n", tenant],
  ];
}

/** Who may reach the transcript endpoint through the apiserver's proxy, and nothing beside it. */
function readerChecks(gatewayNs: string): Check[] {
  return [
    [true, "get", "services/https:kubetask-gateway:https", "--subresource=proxy", "-n", gatewayNs],
    [
      false,
      "create",
      "services/https:kubetask-gateway:https",
      "--subresource=proxy",
      "-n",
      gatewayNs,
    ],
    [false, "get", "services/kubetask-gateway", "--subresource=proxy", "-n", gatewayNs],
    [
      false,
      "get",
      "services/https:kubetask-controller-metrics:metrics",
      "--subresource=proxy",
      "-n",
      gatewayNs,
    ],
    [false, "get", "services", "-n", gatewayNs],
    [false, "get", "secrets", "-n", gatewayNs],
  ];
}

async function secretData(ns: string, name: string): Promise<Record<string, string>> {
  return JSON.parse(await kubectl(["get", "secret", name, "-n", ns, "-o", "json"])).data;
}

/** openssl's view of a certificate (b64 PEM): verified by the CA, and its names. */
async function checkCertificate(data: Record<string, string>, dnsName: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-gw-cert-" });
  try {
    for (const key of ["tls.crt", "ca.crt"]) {
      await Deno.writeFile(
        join(dir, key),
        Uint8Array.from(atob(data[key]), (c) => c.charCodeAt(0)),
      );
    }
    const run = async (args: string[]) => {
      const out = await new Deno.Command("openssl", {
        args,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    };
    assert.match(await run(["verify", "-CAfile", "ca.crt", "tls.crt"]), /tls\.crt: OK/);
    const text = await run(["x509", "-in", "tls.crt", "-noout", "-text"]);
    assert.ok(text.includes(`DNS:${dnsName}`), `the certificate names ${dnsName}:\n${text}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("helm: the gateway's objects render and lint; its own Secret or the user's", async () => {
  const lint = await helm("lint", chart, "--set", "gateway.enabled=true");
  assert.match(lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  assert.doesNotMatch(lint, /\[(WARNING|ERROR)\]/, lint);

  const off = await render("kt", chart, "-n", "kubetask-system");
  assert.ok(!off.some((o) => /gateway/.test(o.metadata.name)), "opt-in");
  assert.ok(
    !off.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].args
      .some((a: string) => a.includes("gateway")),
  );

  const on = await render("kt", chart, "-n", "ops", "--set", "gateway.enabled=true");
  const operator = named(on, "Deployment", "kubetask-controller")!.spec.template.spec;
  const args: string[] = operator.containers[0].args;
  for (
    const arg of [
      "--gateway-url=https://kubetask-gateway.ops.svc:8443",
      "--gateway-ca-file=/etc/kubetask/gateway-ca/ca.crt",
      "--gateway-audience=kubetask-gateway",
      "--gateway-service=ops/kubetask-gateway",
    ]
  ) assert.ok(args.includes(arg), arg);
  assert.deepEqual(operator.volumes.find((v: Doc) => v.name === "gateway-ca").secret, {
    secretName: "kubetask-gateway-tls",
    items: [{ key: "ca.crt", path: "ca.crt" }],
  });
  // Both parse as the processes parse them (the kubelet expands $(...) from the env entries).
  const expand = (a: string) =>
    a.replace("$(POD_NAMESPACE)", "ops").replace("$(SERVICE_ACCOUNT)", "kubetask-controller");
  assert.equal(args[0], "operator", "the subcommand comes first");
  const config = parseConfig(args.slice(1).map(expand), () => undefined);
  assert.deepEqual(config.gateway, {
    url: "https://kubetask-gateway.ops.svc:8443",
    caFile: "/etc/kubetask/gateway-ca/ca.crt",
    audience: "kubetask-gateway",
    egress: { service: { namespace: "ops", name: "kubetask-gateway" } },
    tokenExpirationSeconds: config.gateway?.tokenExpirationSeconds,
  });
  const gateway = named(on, "Deployment", "kubetask-gateway")!.spec.template.spec;
  assert.equal(gateway.containers[0].command, undefined);
  assert.equal(gateway.containers[0].args[0], "gateway");
  assert.equal(gateway.containers[0].args[0], "gateway");
  const gatewayConfig = parseGatewayConfig(
    gateway.containers[0].args.slice(1).map(expand),
    () => undefined,
  );
  assert.equal(gatewayConfig.namespace, "ops");
  assert.equal(gatewayConfig.audience, config.gateway!.audience);
  assert.equal(gatewayConfig.listen.port, 8443);
  assert.equal(gatewayConfig.transcriptRetentionMs, 168 * 3600_000);
  assert.equal(gateway.containers[0].image, operator.containers[0].image);
  assert.ok(gateway.containers[0].args.includes("--transcript-max-bytes-per-task=67108864"));
  const secret = named(on, "Secret", "kubetask-gateway-tls")!;
  assert.equal(secret.type, "kubernetes.io/tls");
  await checkCertificate(secret.data, "kubetask-gateway.ops.svc");
  assert.equal(
    named(on, "PersistentVolumeClaim", "kubetask-gateway-transcripts")!.spec
      .storageClassName,
    undefined,
    "the default class unless one is named",
  );

  const own = await render(
    "kt",
    chart,
    "-n",
    "ops",
    "--set",
    "gateway.enabled=true",
    "--set",
    "gateway.tls.secretName=my-cert",
    "--set",
    "gateway.transcripts.storageClass=fast",
    "--set",
    "gateway.transcripts.size=50Gi",
    "--set",
    "gateway.transcripts.retention=720h",
    "--set",
    "gateway.transcripts.readers=null",
  );
  assert.equal(named(own, "Secret", "kubetask-gateway-tls"), undefined, "the user's certificate");
  const ownGateway = named(own, "Deployment", "kubetask-gateway")!.spec.template.spec;
  assert.equal(ownGateway.volumes.find((v: Doc) => v.name === "tls").secret.secretName, "my-cert");
  assert.equal(
    named(own, "Deployment", "kubetask-controller")!.spec.template.spec.volumes
      .find((v: Doc) => v.name === "gateway-ca").secret.secretName,
    "my-cert",
  );
  assert.ok(ownGateway.containers[0].args.includes("--transcript-retention=720h"));
  const pvc = named(own, "PersistentVolumeClaim", "kubetask-gateway-transcripts")!;
  assert.equal(pvc.spec.storageClassName, "fast");
  assert.equal(pvc.spec.resources.requests.storage, "50Gi");
  assert.equal(named(own, "RoleBinding", "kubetask-gateway-transcript-reader"), undefined);
  assert.ok(named(own, "Role", "kubetask-gateway-transcript-reader"));
});

Deno.test("helm: a gateway value that would reach an argument, URL or name badly is refused before anything renders", async () => {
  const refused: [string, RegExp][] = [
    ["gateway.port=0", /gateway\.port must be a port number/],
    ["gateway.port=8443.5", /gateway\.port must be a port number/],
    ["gateway.port=70000", /gateway\.port must be a port number/],
    ["gateway.audience=a b", /gateway\.audience must be/],
    ["gateway.audience=x\\,--insecure-http", /gateway\.audience must be/],
    ["gateway.logLevel=trace", /gateway\.logLevel must be debug, info, warn or error/],
    ["gateway.usageFlushInterval=2", /gateway\.usageFlushInterval must be a duration/],
    ["gateway.transcripts.retention=1d", /gateway\.transcripts\.retention must be a duration/],
    ["gateway.tls.secretName=x;rm -rf", /gateway\.tls\.secretName must be a Secret's name/],
    ["gateway.tls.secretName=../other", /gateway\.tls\.secretName must be a Secret's name/],
    ["gateway.tls.validityDays=0", /gateway\.tls\.validityDays must be a whole number/],
    ["gateway.transcripts.storageClass=Fast/x", /storageClass must be a StorageClass's name/],
    ["gateway.transcripts.volumeName=pv x", /volumeName must be a PersistentVolume's name/],
    ["gateway.transcripts.size=10GB", /gateway\.transcripts\.size must be a quantity/],
    ["gateway.transcripts.maxBytesPerTask=10", /maxBytesPerTask must be a whole number of bytes/],
  ];
  for (const [set, message] of refused) {
    const error = await helm("template", "kt", chart, "--set", "gateway.enabled=true", "--set", set)
      .then(() => undefined, (e: Error) => e.message);
    assert.ok(error, `${set} is refused`);
    assert.match(error, message, set);
  }
  // Good values of each kind pass, and reach the arguments as given.
  const tuned = await render(
    "kt",
    chart,
    "-n",
    "ops",
    "--set",
    "gateway.enabled=true",
    "--set",
    "gateway.port=9443",
    "--set",
    "gateway.audience=https://gateway.example/kubetask",
    "--set",
    "gateway.usageFlushInterval=1m30s",
    "--set",
    "gateway.transcripts.size=1.5Ti",
    "--set",
    "gateway.transcripts.maxBytesPerTask=1048576",
    "--set",
    "gateway.transcripts.volumeName=transcripts-pv",
  );
  const args: string[] = named(tuned, "Deployment", "kubetask-gateway")!.spec.template.spec
    .containers[0].args;
  for (
    const arg of [
      "--listen-addr=0.0.0.0:9443",
      "--audience=https://gateway.example/kubetask",
      "--usage-flush-interval=1m30s",
      "--transcript-max-bytes-per-task=1048576",
    ]
  ) assert.ok(args.includes(arg), arg);
  assert.equal(
    named(tuned, "PersistentVolumeClaim", "kubetask-gateway-transcripts")!.spec.volumeName,
    "transcripts-pv",
  );
  assert.ok(
    named(tuned, "Deployment", "kubetask-controller")!.spec.template.spec.containers[0].args
      .includes("--gateway-url=https://kubetask-gateway.ops.svc:9443"),
  );
});

Deno.test("helm install (cluster-wide) with the gateway: exactly its calls, Secrets only in its namespace; upgrade keeps its certificate", async () => {
  const ns = await testNamespace("gw-helm");
  const tenant = await testNamespace("gw-tenant");
  const other = await testNamespace("gw-other");
  let installed = false;
  try {
    await helm("install", "kubetask", chart, "-n", ns.name, "--set", "gateway.enabled=true");
    installed = true;
    const gatewaySa = `system:serviceaccount:${ns.name}:kubetask-gateway`;
    await expectAnswers(gatewaySa, gatewayChecks(ns.name, tenant.name, other.name));
    // Cluster-wide install: its Task rules hold in every namespace.
    await expectAnswers(gatewaySa, [[true, "get", "pods", "-n", other.name]]);
    await expectAnswers("alice", readerChecks(ns.name));
    // The operator: reads the gateway's Service for its egress rule, still no Secret.
    await expectAnswers(`system:serviceaccount:${ns.name}:kubetask-controller`, [
      [true, "get", "services/kubetask-gateway", "-n", ns.name],
      [false, "get", "secrets/kubetask-gateway-tls", "-n", ns.name],
    ]);

    const before = await secretData(ns.name, "kubetask-gateway-tls");
    await checkCertificate(before, `kubetask-gateway.${ns.name}.svc`);
    await helm(
      "upgrade",
      "kubetask",
      chart,
      "-n",
      ns.name,
      "--set",
      "gateway.enabled=true",
      "--set",
      "gateway.logLevel=debug",
    );
    const after = await secretData(ns.name, "kubetask-gateway-tls");
    assert.deepEqual(after, before, "the CA and certificate are kept across upgrades");
    const deployed = JSON.parse(
      await kubectl(["get", "deployment/kubetask-gateway", "-n", ns.name, "-o", "json"]),
    );
    assert.ok(deployed.spec.template.spec.containers[0].args.includes("--log-level=debug"));
  } finally {
    if (installed) await helm("uninstall", "kubetask", "-n", ns.name).catch(() => {});
    for (const n of [ns, tenant, other]) await n.cleanup();
  }
});

Deno.test("helm install scoped to some namespaces: the gateway follows Tasks there only", async () => {
  const ns = await testNamespace("gw-scoped");
  const tenant = await testNamespace("gw-tenant");
  const other = await testNamespace("gw-other");
  let installed = false;
  try {
    await helm(
      "install",
      "kubetask",
      chart,
      "-n",
      ns.name,
      "--set",
      "gateway.enabled=true",
      "--set",
      `watchNamespaces={${tenant.name}}`,
      "--set",
      "userRoles.create=false",
    );
    installed = true;
    const gatewaySa = `system:serviceaccount:${ns.name}:kubetask-gateway`;
    await expectAnswers(gatewaySa, gatewayChecks(ns.name, tenant.name, other.name));
    await expectAnswers(gatewaySa, [
      [false, "get", "pods", "-n", other.name],
      [false, "get", "tasks.kubetask.io", "-n", other.name],
      [false, "patch", "tasks.kubetask.io", "--subresource=status", "-n", other.name],
    ]);
    await expectAnswers(`system:serviceaccount:${ns.name}:kubetask-controller`, [
      [true, "get", "services/kubetask-gateway", "-n", ns.name],
      [false, "get", "services/other", "-n", ns.name],
      [false, "get", "secrets/kubetask-gateway-tls", "-n", ns.name],
    ]);
  } finally {
    if (installed) await helm("uninstall", "kubetask", "-n", ns.name).catch(() => {});
    for (const n of [ns, tenant, other]) await n.cleanup();
  }
});

Deno.test("kustomize: deploy/ with the gateway Component, the same answers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-gw-kustomize-" });
  // A user's kustomization (outside deploy/: kustomize refuses an overlay inside its base),
  // with relative paths as kustomize wants them.
  const overlay = join(dir, "overlay");
  await Deno.mkdir(overlay);
  const base = relative(overlay, deployDir);
  await Deno.writeTextFile(
    join(overlay, "kustomization.yaml"),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n` +
      `resources: [${base}]\ncomponents: [${base}/gateway]\n`,
  );
  const installed = await installDeploy(overlay);
  const tenant = await testNamespace("gw-tenant");
  const other = await testNamespace("gw-other");
  let secretCreated = false;
  try {
    assert.match(
      installed.output,
      /deployment\.apps\/kubetask-gateway (created|configured|unchanged)/,
    );
    // The certificate as the README makes it: a CA, and the Service's name signed by it.
    const ca = await createCa(join(dir, "pki"), "ca", "kubetask-gateway-ca", 1);
    const serving = await signCertificate(
      join(dir, "pki"),
      "tls",
      "/CN=kubetask-gateway.kubetask-system.svc",
      "subjectAltName=DNS:kubetask-gateway.kubetask-system.svc\nextendedKeyUsage=serverAuth\n",
      ca,
      1,
    );
    await kubectl([
      "create",
      "secret",
      "generic",
      "kubetask-gateway-tls",
      "-n",
      "kubetask-system",
      `--from-file=tls.crt=${serving.cert}`,
      `--from-file=tls.key=${serving.key}`,
      `--from-file=ca.crt=${ca.cert}`,
    ]);
    secretCreated = true;
    const gatewaySa = "system:serviceaccount:kubetask-system:kubetask-gateway";
    await expectAnswers(gatewaySa, gatewayChecks("kubetask-system", tenant.name, other.name));
    await expectAnswers("alice", readerChecks("kubetask-system"));
    await expectAnswers("system:serviceaccount:kubetask-system:kubetask-controller", [
      [true, "get", "services/kubetask-gateway", "-n", "kubetask-system"],
      [false, "get", "secrets/kubetask-gateway-tls", "-n", "kubetask-system"],
    ]);
    const operator = JSON.parse(
      await kubectl([
        "get",
        "deployment/kubetask-controller",
        "-n",
        "kubetask-system",
        "-o",
        "json",
      ]),
    );
    assert.ok(
      operator.spec.template.spec.containers[0].args.includes(
        "--gateway-url=https://kubetask-gateway.kubetask-system.svc:8443",
      ),
    );
  } finally {
    if (secretCreated) {
      await kubectl([
        "delete",
        "secret",
        "kubetask-gateway-tls",
        "-n",
        "kubetask-system",
        "--ignore-not-found",
      ])
        .catch(() => {});
    }
    await installed.cleanup();
    for (const n of [tenant, other]) await n.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the gateway acting as its installed ServiceAccount serves a Task: identity chain, key, live usage, transcript (also by the CLI through the service proxy), sweep", async () => {
  const ns = await testNamespace("gw-serve");
  const dir = await Deno.makeTempDir({ prefix: "kubetask-gw-serve-" });
  const marker = `MARK-gw-rbac-${crypto.randomUUID().slice(0, 8)}`;
  let installed = false;
  let w: GatewayWorld | undefined;
  let h: TaskHarness | undefined;
  const clients: Deno.HttpClient[] = [];
  const stranger = await testNamespace("gw-stranger");
  try {
    await helm("install", "kubetask", chart, "-n", ns.name, "--set", "gateway.enabled=true");
    installed = true;
    const kubeconfig = await impersonatingKubeconfig(
      dir,
      `system:serviceaccount:${ns.name}:kubetask-gateway`,
    );
    // On an address of this machine other than loopback (an Endpoints address may not be one),
    // over HTTPS: the apiserver's service proxy reaches it below as it would the gateway's pod.
    const hostIp = Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    )?.address;
    assert.ok(hostIp, "an IPv4 address other than loopback");
    const tls = await selfSignedCertificate("kubetask-gateway", [hostIp]);
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    clients.push(client);
    w = await startGatewayWorld({
      hostname: hostIp,
      tls,
      scripts: [{ marker, turns: [{ text: "Done." }] }],
      namespace: ns.name,
      kubeconfig,
    });
    const gw = w;
    h = await TaskHarness.start({
      settings: () => ({
        ...DEFAULT_JOB_SETTINGS,
        gateway: {
          url: gw.gateway.url,
          caPem: "unused on kwok",
          audience: AUDIENCE,
          tokenExpirationSeconds: 600,
        },
      }),
    });
    const harness = h;
    // kwok keeps such a pod Running until it is deleted (localcluster/kwok-stages.yaml).
    await h.agent("coder", {
      modelProvider: w.provider,
      podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
    });
    await h.task("fix", { agentRef: "coder", description: "Fix it" });
    const pod: Json = await eventually("the Task's pod running", async () => {
      const pods = JSON.parse(
        await kubectl([
          "get",
          "pods",
          "-n",
          harness.ns,
          "-l",
          "kubetask.io/task=fix",
          "-o",
          "json",
        ]),
      ).items;
      return pods.find((p: Json) => p.status?.phase === "Running");
    }, 60_000);
    const token = await mintToken(h.ns, AGENT_SA, {
      audience: AUDIENCE,
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
    });
    const res = await fetch(`${w.gateway.url}/p/${w.provider}/v1/messages`, {
      client,
      method: "POST",
      headers: {
        "x-api-key": token,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify({
        model: "claude-scripted",
        max_tokens: 200,
        stream: false,
        messages: [{ role: "user", content: `Fix it (${marker}).` }],
      }),
    });
    // TokenReview, pod, Job, Task, Agent, ModelProvider and its Secret: all read as the gateway.
    assert.equal(res.status, 200, await res.text());
    const seen = w.model.requests.filter((r) => r.marker === marker);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers["x-api-key"], w.key, "the key from the gateway's namespace");
    // status.usage patched as the gateway.
    await eventually("status.usage written by the gateway", async () => {
      const t = await harness.get("Task", "fix");
      return t?.status?.usage?.source === "Gateway" && t.status.usage.requests === 1;
    });
    // Transcript readers authorized by TokenReview and SubjectAccessReview, as the gateway.
    await h.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "owner" } });
    await h.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "task-reader" },
      rules: [{ apiGroups: ["kubetask.io"], resources: ["tasks"], verbs: ["get"] }],
    });
    await h.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "task-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "task-reader" },
      subjects: [{ kind: "ServiceAccount", name: "owner", namespace: h.ns }],
    });
    await kubectl(["create", "serviceaccount", "someone", "-n", stranger.name]);
    const read = async (bearer: string) => {
      const r = await fetch(`${gw.gateway.url}/transcripts/${harness.ns}/fix`, {
        client,
        headers: { "x-kubetask-user-authorization": `Bearer ${bearer}` },
      });
      return { status: r.status, text: await r.text() };
    };
    const mine = await read(await mintToken(h.ns, "owner"));
    assert.equal(mine.status, 200, mine.text);
    assert.ok(mine.text.includes(marker));
    assert.equal((await read(await mintToken(stranger.name, "someone"))).status, 403);
    // The sweep lists the namespace's Tasks as the gateway (it throws when refused).
    await w.gateway.sweep!(); // in-process (this world is not asProcess)
    assert.equal((await read(await mintToken(h.ns, "owner"))).status, 200, "the Task still exists");

    // `kubectl kubetask transcript` through the apiserver's service proxy to the chart's Service,
    // allowed by the transcript reader binding; the gateway then decides. The chart's pod runs
    // nothing on kwok, so the Service is pointed at this gateway instead. The proxy goes only to
    // an endpoint address that is a pod's IP (targetRef to a Pod of that podIP): a stand-in pod,
    // never scheduled, is given this machine's address.
    await kubectl(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "gateway-stand-in", namespace: ns.name },
        spec: {
          schedulerName: "nobody",
          containers: [{ name: "gateway", image: "example.test/none:1" }],
        },
      }),
    );
    await kubectl([
      "patch",
      "pod/gateway-stand-in",
      "-n",
      ns.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { podIP: hostIp, podIPs: [{ ip: hostIp }] } }),
    ]);
    await kubectl([
      "patch",
      "service/kubetask-gateway",
      "-n",
      ns.name,
      "--type=json",
      "-p",
      JSON.stringify([{ op: "remove", path: "/spec/selector" }]),
    ]);
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "kubetask-gateway", namespace: ns.name },
        subsets: [{
          addresses: [{
            ip: hostIp,
            targetRef: { kind: "Pod", name: "gateway-stand-in", namespace: ns.name },
          }],
          ports: [{ name: "https", port: Number(new URL(w.gateway.url).port), protocol: "TCP" }],
        }],
      }),
    );
    const transcript = async (namespace: string, serviceAccount: string) => {
      const path = await tokenKubeconfig(dir, await mintToken(namespace, serviceAccount));
      return await cli(
        "transcript",
        "fix",
        "-n",
        harness.ns,
        "--kubeconfig",
        path,
        "--gateway-namespace",
        ns.name,
      );
    };
    const owner = await eventually("the transcript through the service proxy", async () => {
      const r = await transcript(harness.ns, "owner");
      if (r.code !== 0) throw new Error(r.stderr);
      return r;
    });
    assert.ok(owner.stdout.includes(marker), owner.stdout);
    const strangers = await transcript(stranger.name, "someone");
    assert.notEqual(strangers.code, 0);
    assert.match(strangers.stderr, /the gateway answered 403/, "refused by the gateway itself");
    // Without the reader binding the apiserver refuses the proxy before the gateway is asked.
    await kubectl([
      "delete",
      "rolebinding/kubetask-gateway-transcript-reader",
      "-n",
      ns.name,
    ]);
    // (The CLI says "the gateway answered" for any refusal; the body is the apiserver's Status.)
    await eventually("the proxy refused without the binding", async () => {
      const r = await transcript(harness.ns, "owner");
      return r.code !== 0 &&
        /"kind":"Status".*cannot get resource \\"services\/proxy\\"/.test(r.stderr) && r;
    });
  } finally {
    for (const c of clients) c.close();
    await h?.cleanup();
    await w?.close();
    if (installed) await helm("uninstall", "kubetask", "-n", ns.name).catch(() => {});
    for (const n of [ns, stranger]) await n.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
