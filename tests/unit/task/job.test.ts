import assert from "assert";
import type { V1Job } from "@kubernetes/client-node";
import { DEFAULT_AGENT_IMAGE } from "../../../api/v1alpha1/index.ts";
import type { ResolvedContext } from "../../../controllers/task/contexts.ts";
import { DEFAULT_GIT_IMAGE } from "../../../controllers/task/git.ts";
import {
  agentProblem,
  buildAgentJob,
  buildContextConfigMap,
  planContextVolume,
} from "../../../controllers/task/job.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

function podOf(job: V1Job) {
  return job.spec!.template.spec!;
}

function agentContainer(job: V1Job) {
  return podOf(job).containers[0];
}

/** Where each mount path gets its content from: volume name + subPath. */
function mountsOf(job: V1Job): Record<string, string> {
  return Object.fromEntries(
    (agentContainer(job).volumeMounts ?? []).map((
      m,
    ) => [m.mountPath, `${m.name}:${m.subPath ?? ""}`]),
  );
}

Deno.test("job: defaults, labels, env and run-once settings (the apply layer adds the owner)", () => {
  const task = makeTask({ description: "Fix it" });
  const agent = makeAgent({
    podSpec: { labels: { "network-policy": "agent", "kubetask.io/task": "spoof" } },
  });
  const job = buildAgentJob(task, agent, []);
  assert.equal(job.metadata?.name, "fix-bug");
  assert.equal(job.metadata?.namespace, "team-a");
  assert.deepEqual(job.metadata?.labels, { "kubetask.io/task": "fix-bug" });
  assert.equal(job.metadata?.ownerReferences, undefined);
  assert.equal(job.spec?.backoffLimit, 0);
  assert.deepEqual(job.spec?.template.metadata?.labels, {
    "network-policy": "agent",
    "kubetask.io/task": "fix-bug",
    "kubetask.io/task-uid": task.metadata.uid,
  });
  const pod = podOf(job);
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(pod.serviceAccountName, "agent-sa");
  assert.equal(pod.initContainers, undefined);
  const c = agentContainer(job);
  assert.equal(c.image, DEFAULT_AGENT_IMAGE);
  assert.equal(c.command, undefined);
  assert.equal(c.workingDir, "/workspace");
  assert.deepEqual(c.env, [
    { name: "TASK_NAME", value: "fix-bug" },
    { name: "TASK_NAMESPACE", value: "team-a" },
    { name: "WORKSPACE_DIR", value: "/workspace" },
  ]);
  assert.equal(mountsOf(job)["/workspace/task.md"], "task-context:task.md");
  const cmVolume = pod.volumes?.find((v) => v.name === "task-context");
  assert.equal(cmVolume?.configMap?.name, "fix-bug-context");
});

Deno.test("job: image, command, workspaceDir, scheduling and runtimeClassName come from the Agent", () => {
  const tolerations = [{ key: "dedicated", operator: "Equal", value: "ai", effect: "NoSchedule" }];
  const affinity = {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
  };
  const agent = makeAgent({
    agentImage: "example.test/agent:1",
    command: ["sh", "-c", "run-agent"],
    workspaceDir: "/work",
    podSpec: {
      scheduling: { nodeSelector: { "kubernetes.io/os": "linux" }, tolerations, affinity },
      runtimeClassName: "gvisor",
    },
  });
  const job = buildAgentJob(makeTask(), agent, []);
  const pod = podOf(job);
  assert.deepEqual(pod.nodeSelector, { "kubernetes.io/os": "linux" });
  assert.deepEqual(pod.tolerations, tolerations);
  assert.deepEqual(pod.affinity, affinity);
  assert.equal(pod.runtimeClassName, "gvisor");
  const c = agentContainer(job);
  assert.equal(c.image, "example.test/agent:1");
  assert.deepEqual(c.command, ["sh", "-c", "run-agent"]);
  assert.equal(c.workingDir, "/work");
  assert.equal(mountsOf(job)["/work/task.md"], "task-context:task.md");
});

Deno.test("job: credentials as env from secretKeyRef and as files with fileMode", () => {
  const agent = makeAgent({
    credentials: [
      {
        name: "github-token",
        secretRef: { name: "github-creds", key: "token" },
        env: "GITHUB_TOKEN",
      },
      {
        name: "ssh-key",
        secretRef: { name: "ssh-keys", key: "id_rsa" },
        mountPath: "/home/agent/.ssh/id_rsa",
        fileMode: 0o400,
      },
      { name: "default-mode", secretRef: { name: "other", key: "k" }, mountPath: "/etc/other" },
    ],
  });
  const job = buildAgentJob(makeTask(), agent, []);
  const c = agentContainer(job);
  assert.deepEqual(c.env?.find((e) => e.name === "GITHUB_TOKEN"), {
    name: "GITHUB_TOKEN",
    valueFrom: { secretKeyRef: { name: "github-creds", key: "token" } },
  });
  const mounts = c.volumeMounts ?? [];
  const sshMount = mounts.find((m) => m.mountPath === "/home/agent/.ssh/id_rsa");
  assert.ok(sshMount?.readOnly);
  const sshVolume = podOf(job).volumes?.find((v) => v.name === sshMount?.name);
  assert.equal(sshVolume?.secret?.secretName, "ssh-keys");
  assert.deepEqual(sshVolume?.secret?.items, [{
    key: "id_rsa",
    path: sshMount?.subPath,
    mode: 0o400,
  }]);
  const otherMount = mounts.find((m) => m.mountPath === "/etc/other");
  const otherVolume = podOf(job).volumes?.find((v) => v.name === otherMount?.name);
  assert.equal(otherVolume?.secret?.items?.[0].mode, 0o600);
});

Deno.test("job: humanInTheLoop wraps the command; the Task's setting overrides the Agent's", () => {
  const agent = makeAgent({
    command: ["gemini", "-p", "go"],
    humanInTheLoop: { enabled: true, keepAliveSeconds: 60 },
  });
  const wrapped = agentContainer(buildAgentJob(makeTask(), agent, [])).command ?? [];
  assert.equal(wrapped[0], "sh");
  assert.match(wrapped[2], /^gemini -p go; code=\$\?; .*sleep 60; exit \$code$/);

  const taskOff = makeTask({ humanInTheLoop: { enabled: false } });
  assert.deepEqual(agentContainer(buildAgentJob(taskOff, agent, [])).command, [
    "gemini",
    "-p",
    "go",
  ]);

  const taskOn = makeTask({ humanInTheLoop: { enabled: true } });
  const plain = makeAgent({ command: ["gemini"] });
  assert.match(
    agentContainer(buildAgentJob(taskOn, plain, [])).command?.[2] ?? "",
    /sleep 3600; exit \$code$/,
  );
});

Deno.test("job: humanInTheLoop without an Agent command is a clear problem", () => {
  const task = makeTask({ humanInTheLoop: { enabled: true } });
  assert.match(agentProblem(task, makeAgent()) ?? "", /humanInTheLoop.*no command/);
  assert.equal(agentProblem(task, makeAgent({ command: ["x"] })), undefined);
  assert.equal(agentProblem(makeTask(), makeAgent()), undefined);
});

Deno.test("job: file and directory contexts land at their mount paths via the ConfigMap", () => {
  const contexts: ResolvedContext[] = [
    { kind: "append", name: "std", namespace: "team-a", type: "Inline", content: "Be nice." },
    {
      kind: "file",
      name: "guide",
      namespace: "team-a",
      mountPath: "/workspace/guide.md",
      text: "# Guide",
    },
    {
      kind: "directory",
      name: "configs",
      namespace: "team-a",
      mountPath: "/workspace/configs",
      data: { "a.yaml": "a: 1", "b.txt": "b" },
      binaryData: { "logo.png": "iVBORw0=" },
    },
  ];
  const task = makeTask({ description: "Refactor" });
  const agent = makeAgent();
  const cm = buildContextConfigMap(task, agent, contexts);
  assert.equal(cm.metadata?.name, "fix-bug-context");
  assert.deepEqual(cm.metadata?.labels, { "kubetask.io/task": "fix-bug" });
  assert.equal(
    cm.data?.["task.md"],
    'Refactor\n\n<context name="std" namespace="team-a" type="Inline">\nBe nice.\n</context>\n',
  );

  const job = buildAgentJob(task, agent, contexts);
  const volume = podOf(job).volumes?.find((v) => v.name === "task-context");
  const items = Object.fromEntries((volume?.configMap?.items ?? []).map((i) => [i.path, i.key]));
  const contentAt = (path: string) => {
    const key = items[path];
    return cm.data?.[key] ?? cm.binaryData?.[key];
  };
  const mounts = mountsOf(job);
  // A file: one subPath mount whose item holds the content.
  const guideSub = mounts["/workspace/guide.md"].split(":")[1];
  assert.equal(contentAt(guideSub), "# Guide");
  // A whole ConfigMap: a directory whose entries are every key of it.
  const dirSub = mounts["/workspace/configs"].split(":")[1];
  assert.equal(contentAt(`${dirSub}/a.yaml`), "a: 1");
  assert.equal(contentAt(`${dirSub}/b.txt`), "b");
  assert.equal(contentAt(`${dirSub}/logo.png`), "iVBORw0=");
  assert.equal(contentAt("task.md"), cm.data?.["task.md"]);
});

Deno.test("job: a Git context clones in an init container at ref/depth, with optional secret", () => {
  const contexts: ResolvedContext[] = [{
    kind: "git",
    name: "repo",
    namespace: "team-a",
    mountPath: "/workspace/repo-docs",
    git: {
      repository: "https://git.example.test/org/contexts",
      path: "/docs/",
      ref: "v1.2",
      depth: 3,
      secretRef: { name: "git-creds" },
    },
  }];
  const job = buildAgentJob(makeTask(), makeAgent(), contexts, { gitImage: "mirror.test/git:2" });
  const pod = podOf(job);
  const init = pod.initContainers?.[0];
  assert.equal(init?.image, "mirror.test/git:2");
  assert.equal(
    podOf(buildAgentJob(makeTask(), makeAgent(), contexts)).initContainers?.[0].image,
    DEFAULT_GIT_IMAGE,
  );
  const env = Object.fromEntries((init?.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env.GIT_REPOSITORY, "https://git.example.test/org/contexts");
  assert.equal(env.GIT_REF, "v1.2");
  assert.equal(env.GIT_DEPTH, "3");
  assert.equal(env.GIT_HOST, "git.example.test");
  const script = init?.command?.join(" ") ?? "";
  // Options end before every user value, so a ref can never be an option.
  assert.match(
    script,
    /timeout "\$GIT_TIMEOUT" git fetch -q --depth "\$GIT_DEPTH" -- origin "\$GIT_REF"/,
  );
  assert.match(script, /remote add -- origin "\$GIT_REPOSITORY"/);
  // Only https and ssh; no redirects; credentials only for the repository's host.
  assert.match(script, /protocol\.allow never/);
  assert.match(script, /protocol\.https\.allow always/);
  assert.match(script, /http\.followRedirects false/);
  assert.match(script, /"credential\.https:\/\/\$GIT_HOST\.helper"/);
  assert.match(script, /StrictHostKeyChecking=yes -o UserKnownHostsFile=\$secret\/known_hosts/);
  assert.doesNotMatch(script, /accept-new/);
  // The checkout volume is shared; the agent mounts the path inside the repo.
  const agentMount = agentContainer(job).volumeMounts?.find((m) =>
    m.mountPath === "/workspace/repo-docs"
  );
  assert.equal(agentMount?.subPath, "repo/docs");
  assert.ok(init?.volumeMounts?.some((m) => m.name === agentMount?.name));
  // A hostile or huge repository is bounded: disk, memory and CPU, time, and stalls.
  assert.deepEqual(
    pod.volumes?.find((v) => v.name === agentMount?.name)?.emptyDir,
    { sizeLimit: "2Gi" },
  );
  assert.deepEqual(init?.resources?.limits, { cpu: "1", memory: "1Gi" });
  assert.equal(env.GIT_TIMEOUT, "600");
  assert.equal(env.GIT_HTTP_LOW_SPEED_LIMIT, "1000");
  assert.equal(env.GIT_HTTP_LOW_SPEED_TIME, "60");
  const secretVolume = pod.volumes?.find((v) => v.secret?.secretName === "git-creds");
  assert.ok(secretVolume);
  // Only the keys the clone uses are mounted, never the whole Secret.
  assert.deepEqual(secretVolume.secret?.items?.map((i) => i.key), [
    "username",
    "password",
    "ssh-privatekey",
    "known_hosts",
  ]);
  assert.ok(init?.volumeMounts?.some((m) => m.name === secretVolume.name));

  const noSecret = buildAgentJob(makeTask(), makeAgent(), [{
    ...contexts[0],
    git: { repository: "https://git.example.test/x", ref: "HEAD", depth: 1 },
  } as ResolvedContext]);
  assert.ok(!podOf(noSecret).volumes?.some((v) => v.secret));
  const mount = agentContainer(noSecret).volumeMounts?.find((m) =>
    m.mountPath === "/workspace/repo-docs"
  );
  assert.equal(mount?.subPath, "repo");
});

Deno.test("job: every container is hardened; the Agent adds a user, resources and token choice", () => {
  const hardened = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
  const git: ResolvedContext = {
    kind: "git",
    name: "repo",
    namespace: "team-a",
    mountPath: "/workspace/repo",
    git: { repository: "https://git.example.test/org/repo", ref: "HEAD", depth: 1 },
  };
  const plain = buildAgentJob(makeTask(), makeAgent(), [git]);
  assert.deepEqual(agentContainer(plain).securityContext, hardened);
  assert.deepEqual(podOf(plain).initContainers?.[0].securityContext, {
    ...hardened,
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
  });
  assert.equal(podOf(plain).securityContext, undefined);
  assert.equal(podOf(plain).automountServiceAccountToken, undefined);
  assert.equal(agentContainer(plain).resources, undefined);

  const job = buildAgentJob(
    makeTask(),
    makeAgent({
      securityContext: { runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true },
      resources: { limits: { memory: "2Gi" } },
      podSpec: { securityContext: { fsGroup: 65532 }, automountServiceAccountToken: false },
    }),
    [],
  );
  assert.deepEqual(agentContainer(job).securityContext, {
    ...hardened,
    runAsNonRoot: true,
    runAsUser: 65532,
    readOnlyRootFilesystem: true,
  });
  assert.deepEqual(agentContainer(job).resources, { limits: { memory: "2Gi" } });
  assert.deepEqual(podOf(job).securityContext, { fsGroup: 65532 });
  assert.equal(podOf(job).automountServiceAccountToken, false);
});

Deno.test("job: the agent pod carries its Agent's and its Task's uids, which podSpec.labels cannot set", () => {
  const agent = makeAgent({
    podSpec: {
      labels: {
        team: "ai",
        "kubetask.io/agent-uid": "another-agents-uid",
        // Another Task's uid would take on that Task's Git egress policy.
        "kubetask.io/task-uid": "another-tasks-uid",
      },
    },
  });
  agent.metadata.uid = "uid-of-this-agent";
  const task = makeTask();
  task.metadata.uid = "uid-of-this-task";
  const labels = buildAgentJob(task, agent, []).spec!.template.metadata!.labels;
  assert.deepEqual(labels, {
    team: "ai",
    "kubetask.io/task": "fix-bug",
    "kubetask.io/task-uid": "uid-of-this-task",
    "kubetask.io/agent-uid": "uid-of-this-agent",
  });
  // The built-in Agent has no uid: no egress label at all, not the forged one.
  agent.metadata.uid = undefined;
  const builtIn = buildAgentJob(makeTask(), agent, []).spec!.template.metadata!.labels!;
  assert.equal(builtIn["kubetask.io/agent-uid"], undefined);
});

Deno.test("job: the ConfigMap and the Job's volume share one layout, built once", () => {
  const task = makeTask({ description: "Fix it" });
  const agent = makeAgent();
  const contexts: ResolvedContext[] = [
    { kind: "file", name: "a", namespace: "team-a", mountPath: "/workspace/a.md", text: "A" },
  ];
  const volume = planContextVolume(task, agent.spec.workspaceDir, contexts);
  const configMap = buildContextConfigMap(task, agent, contexts, volume);
  const job = buildAgentJob(task, agent, contexts, undefined, volume);
  assert.equal(configMap.data, volume.data);
  const items = podOf(job).volumes?.find((v) => v.configMap)?.configMap?.items;
  assert.equal(items, volume.items);
  assert.deepEqual(Object.keys(configMap.data ?? {}).sort(), items?.map((i) => i.key).sort());
  // Without one given, each builds the same layout.
  assert.deepEqual(buildContextConfigMap(task, agent, contexts), configMap);
  assert.deepEqual(buildAgentJob(task, agent, contexts), job);
});
