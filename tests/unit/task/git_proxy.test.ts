import assert from "assert";
import type { V1Container, V1Job, V1PodSpec } from "@kubernetes/client-node";
import { gitContext } from "../../../api/v1alpha1/index.ts";
import { buildAgentJob, type JobSettings } from "../../../controllers/task/job.ts";
import type { ResolvedContext } from "../../../controllers/task/contexts.ts";
import {
  GIT_PROXY_CONTAINER,
  gitProxyPlan,
  gitTokenEvent,
} from "../../../controllers/task/git_proxy.ts";
import { parseGitProxyArgs } from "../../../gitproxy/main.ts";
import { route } from "../../../gitproxy/routes.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

const SETTINGS: JobSettings = {
  gitImage: "git:1",
  gitProxy: { image: "mirror.test/kubetask:1", command: ["/kubetask"] },
};
const HTTPS = "https://git.example.test/org/app.git";
const SSH = "ssh://git@git.example.test/org/ops.git";

function gitCtx(repository: string, mountPath: string, secret?: string): ResolvedContext {
  return {
    kind: "git",
    name: mountPath.split("/").at(-1)!,
    namespace: "team-a",
    mountPath,
    git: {
      repository,
      ref: "main",
      depth: 1,
      ...(secret ? { secretRef: { name: secret } } : {}),
    },
  };
}

/** The shipped Agents' credentials: the model key and the Git token. */
const AGENT = makeAgent({
  credentials: [
    { name: "key", secretRef: { name: "creds", key: "api-key" }, env: "ANTHROPIC_API_KEY" },
    { name: "git-token", secretRef: { name: "creds", key: "git-token" }, env: "GIT_TOKEN" },
  ],
});

const podOf = (job: V1Job): V1PodSpec => job.spec!.template.spec!;
const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));

/** Every Secret a container can read: through its env and its volume mounts. */
function secretsReadBy(pod: V1PodSpec, c: V1Container): string[] {
  const fromEnv = (c.env ?? []).flatMap((e) => {
    const ref = e.valueFrom?.secretKeyRef;
    return ref ? [`${ref.name}/${ref.key}`] : [];
  });
  const fromVolumes = (c.volumeMounts ?? []).flatMap((m) => {
    const v = pod.volumes?.find((v) => v.name === m.name);
    return [
      ...(v?.secret ? [`${v.secret.secretName}`] : []),
      ...(v?.projected?.sources ?? []).flatMap((s) => s.secret ? [`${s.secret.name}`] : []),
    ];
  });
  return [...fromEnv, ...fromVolumes];
}

Deno.test("git proxy: a native sidecar first, the only container with the https credentials", () => {
  const contexts = [
    gitCtx(HTTPS, "/workspace/app", "app-git"),
    gitCtx(SSH, "/workspace/ops", "ops-ssh"),
  ];
  const pod = podOf(buildAgentJob(makeTask(), AGENT, contexts, SETTINGS));
  const [sidecar, httpsClone, sshClone] = pod.initContainers!;
  assert.equal(sidecar.name, GIT_PROXY_CONTAINER);
  assert.equal(sidecar.restartPolicy, "Always");
  assert.equal(sidecar.image, "mirror.test/kubetask:1");
  assert.deepEqual(sidecar.command, ["/kubetask"]);
  assert.deepEqual(sidecar.args, [
    "git-proxy",
    "--port",
    "7070",
    "--secret-dir",
    "/kubetask/git-proxy",
    "--repository",
    HTTPS,
  ]);
  // The arguments the plan writes are ones the proxy accepts.
  assert.deepEqual(parseGitProxyArgs(sidecar.args!.slice(1)).repositories, [HTTPS]);
  assert.deepEqual(sidecar.startupProbe?.exec?.command, [
    "/kubetask",
    "git-proxy",
    "probe",
    "--port",
    "7070",
  ]);
  assert.deepEqual(sidecar.securityContext, {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    readOnlyRootFilesystem: true,
  });
  assert.ok(sidecar.resources?.limits?.memory && sidecar.resources.requests?.cpu);
  assert.deepEqual(secretsReadBy(pod, sidecar), ["app-git"]);
  const projected = pod.volumes!.find((v) => v.name === "git-proxy-secret")!.projected!;
  assert.deepEqual(projected.sources![0].secret!.items, [
    { key: "username", path: "0/username" },
    { key: "password", path: "0/password" },
  ]);

  // The https clone: insteadOf only, no Secret; the ssh clone keeps its key.
  const insteadOf = {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "url.http://127.0.0.1:7070/0.insteadOf",
    GIT_CONFIG_VALUE_0: HTTPS,
  };
  for (const [name, value] of Object.entries(insteadOf)) {
    assert.equal(envOf(httpsClone)[name]?.value, value, name);
    assert.equal(envOf(sshClone)[name], undefined, name);
  }
  assert.deepEqual(secretsReadBy(pod, httpsClone), []);
  assert.deepEqual(secretsReadBy(pod, sshClone), ["ops-ssh"]);

  // The agent: the insteadOf variables and its model key; the Git token went to the proxy.
  const [agent] = pod.containers;
  for (const [name, value] of Object.entries(insteadOf)) {
    assert.equal(envOf(agent)[name]?.value, value, name);
  }
  assert.equal(envOf(agent).GIT_TOKEN, undefined);
  assert.deepEqual(secretsReadBy(pod, agent), ["creds/api-key"]);
  assert.ok(!pod.shareProcessNamespace, "the agent cannot read the sidecar's files through /proc");
});

Deno.test("git proxy: the Agent's GIT_TOKEN (and GIT_USERNAME) feed Contexts without a secretRef", () => {
  const agent = makeAgent({
    credentials: [
      ...AGENT.spec.credentials!,
      { name: "git-user", secretRef: { name: "users", key: "bot" }, env: "GIT_USERNAME" },
    ],
  });
  const contexts = [
    gitCtx(HTTPS, "/workspace/app"),
    gitCtx(HTTPS, "/workspace/app-again"),
    gitCtx("https://git.example.test/org/lib.git", "/workspace/lib", "lib-git"),
  ];
  const plan = gitProxyPlan(agent, contexts, SETTINGS.gitProxy)!;
  // One folder per distinct repository: a Context's Secret, else the token.
  assert.deepEqual(plan.sidecar.args!.filter((a) => a.startsWith("https://")), [
    HTTPS,
    "https://git.example.test/org/lib.git",
  ]);
  assert.deepEqual(plan.volumes[0].projected!.sources!.map((s) => s.secret), [
    { name: "creds", items: [{ key: "git-token", path: "0/password" }] },
    { name: "users", items: [{ key: "bot", path: "0/username" }] },
    {
      name: "lib-git",
      items: [{ key: "username", path: "1/username" }, { key: "password", path: "1/password" }],
      optional: true,
    },
  ]);
  assert.deepEqual([...plan.proxied], [0, 1, 2]);
  assert.deepEqual([...plan.movedCredentials], [1, 2]);
  const pod = podOf(buildAgentJob(makeTask(), agent, contexts, SETTINGS));
  const env = envOf(pod.containers[0]);
  assert.equal(env.GIT_TOKEN, undefined);
  assert.equal(env.GIT_USERNAME, undefined);
  assert.equal(env.GIT_CONFIG_VALUE_1.value, "https://git.example.test/org/lib.git");
  assert.match(gitTokenEvent(agent, plan, true)!.message, /GIT_TOKEN and GIT_USERNAME .*proxy/);
  assert.equal(gitTokenEvent(agent, plan, true)!.type, "Normal");
});

Deno.test("git proxy: none without https Git Contexts; the token stays, with a Warning", () => {
  const ssh = [gitCtx(SSH, "/workspace/ops", "ops-ssh")];
  assert.equal(gitProxyPlan(AGENT, ssh, SETTINGS.gitProxy), undefined);
  const pod = podOf(buildAgentJob(makeTask(), AGENT, ssh, SETTINGS));
  assert.deepEqual(pod.initContainers!.map((c) => c.name), ["git-clone-0"]);
  assert.ok(envOf(pod.containers[0]).GIT_TOKEN);
  const event = gitTokenEvent(AGENT, undefined, true)!;
  assert.equal(event.type, "Warning");
  assert.equal(event.reason, "GitTokenExposed");
  assert.match(event.message, /no https Git Context/);
  assert.equal(gitTokenEvent(makeAgent(), undefined, true), undefined, "no token: nothing said");

  // Without the proxy configured (some tests), an https clone mounts its Secret as before.
  const old = podOf(
    buildAgentJob(makeTask(), AGENT, [gitCtx(HTTPS, "/workspace/a", "app-git")], {
      gitImage: "git:1",
    }),
  );
  assert.deepEqual(old.initContainers!.map((c) => c.name), ["git-clone-0"]);
  assert.deepEqual(secretsReadBy(old, old.initContainers![0]), ["app-git"]);
  assert.match(gitTokenEvent(AGENT, undefined, false)!.message, /without the Git proxy/);
});

Deno.test("attack: hostile repository URLs are refused by the schema, and the proxy takes the rest", () => {
  const hostile = [
    "https://user:pass@git.example.test/a.git", // credentials in the URL
    "https://git.example.test/a.git?x=1", // a query the proxy would pass on
    "https://git.example.test/a.git#frag",
    "https://git.example.test/a.git\n--port",
    "https://git.example.test/a b.git",
    "http://git.example.test/a.git", // plain http upstream
    "https://127.0.0.1/a.git", // the proxy's own loopback
    "ext::sh -c touch% /tmp/pwned",
  ];
  for (const repository of hostile) {
    const parsed = gitContext.safeParse({ repository });
    assert.ok(!parsed.success, `schema refuses ${JSON.stringify(repository)}`);
  }
  for (
    const repository of [HTTPS, "https://git.example.test:8443/o/r", "https://h.test/a%20b/c.git"]
  ) {
    assert.ok(gitContext.safeParse({ repository }).success, repository);
    assert.doesNotThrow(() =>
      parseGitProxyArgs(["--port", "1", "--secret-dir", "/s", "--repository", repository])
    );
  }
  // insteadOf rewrites by prefix: a longer URL lands on a path the proxy refuses.
  const listen = "127.0.0.1:7070";
  const rewritten = `${HTTPS}-evil/info/refs?service=git-receive-pack`
    .replace(HTTPS, "/0");
  assert.ok("status" in route("GET", rewritten, listen, listen, [HTTPS]));
  const climbed = `${HTTPS}/../other.git/info/refs?service=git-receive-pack`.replace(HTTPS, "/0");
  assert.ok("status" in route("GET", climbed, listen, listen, [HTTPS]));
});
