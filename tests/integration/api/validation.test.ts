// Invalid objects are rejected at `kubectl apply` time, with a message that
// names the field and says how to fix it.
import assert from "assert";
import { testNamespace } from "../env.ts";
import { create, installCrds } from "./crds.ts";

interface InvalidCase {
  what: string;
  yaml: string;
  /** Every one of these must appear in the apiserver's error. */
  expect: string[];
}

const task = (spec: string) =>
  `apiVersion: kubetask.io/v1alpha1\nkind: Task\nmetadata: {name: t}\nspec:\n${spec}`;
const cronTask = (spec: string) =>
  `apiVersion: kubetask.io/v1alpha1\nkind: CronTask\nmetadata: {name: c}\nspec:\n${spec}`;
const agent = (spec: string) =>
  `apiVersion: kubetask.io/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec:\n  serviceAccountName: sa\n${spec}`;
const context = (spec: string) =>
  `apiVersion: kubetask.io/v1alpha1\nkind: Context\nmetadata: {name: x}\nspec:\n${spec}`;
const TEMPLATE = "  taskTemplate: {spec: {description: d}}\n";

const CASES: InvalidCase[] = [
  // Git values that reach git's command line and its credential helper: attacks replayed.
  {
    what: "Git ref that is an option running a command in the clone container",
    yaml: context(
      "  type: Git\n  git: {repository: 'https://git.example.test/r.git', " +
        "ref: '--upload-pack=touch /tmp/pwned'}\n",
    ),
    expect: ["spec.git.ref", "git.ref must be a branch, tag or commit", 'not starting with "-"'],
  },
  {
    what: "Git repository with a password in the URL",
    yaml: context(
      "  type: Git\n  git: {repository: 'https://bob:hunter2@git.example.test/r.git'}\n",
    ),
    expect: ["spec.git.repository", "without user or password", "put credentials in git.secretRef"],
  },
  {
    what: "Git repository through the ext:: transport (runs a command)",
    yaml: context("  type: Git\n  git: {repository: 'ext::sh -c touch% /tmp/pwned'}\n"),
    expect: ["spec.git.repository", "must be an https:// URL"],
  },
  {
    what: "Git repository on the cloud metadata address (a Restricted Agent's Task reaches it)",
    yaml: context("  type: Git\n  git: {repository: 'https://169.254.169.254/latest'}\n"),
    expect: ["spec.git.repository", "must not name an unspecified (0.x), loopback (127.x)"],
  },
  {
    what: "Git repository on the unspecified address",
    yaml: context("  type: Git\n  git: {repository: 'ssh://git@0.0.0.0:22/r.git'}\n"),
    expect: ["spec.git.repository", "link-local (169.254.x, cloud metadata)"],
  },
  {
    what: "Git repository on the local file system",
    yaml: context("  type: Git\n  git: {repository: 'file:///kubetask/git-secret'}\n"),
    expect: ["spec.git.repository", "must be an https:// URL"],
  },
  {
    what: "Git path that climbs out of the checkout",
    yaml: context(
      "  type: Git\n  git: {repository: 'https://git.example.test/r.git', path: '../../etc'}\n",
    ),
    expect: ["spec.git.path", 'without ".." segments'],
  },
  // Names that reach request paths, volumes and environments: attacks replayed.
  {
    what: "Task context named '..' in a namespace that is not a name (path traversal)",
    yaml: task("  contexts:\n    - {name: '..', namespace: 'Other_NS'}\n"),
    expect: [
      "spec.contexts[0].name",
      "contexts[].name must be a Kubernetes object name",
      "spec.contexts[0].namespace",
      "contexts[].namespace must be a namespace name",
    ],
  },
  {
    what: "Task agentRef with a slash",
    yaml: task("  agentRef: ../kube-system/admin\n"),
    expect: ["spec.agentRef", "agentRef must be a Kubernetes object name"],
  },
  {
    what: "ConfigMap Context whose name and key walk out of their directory",
    yaml: context("  type: ConfigMap\n  configMap: {name: '..', key: '../../etc/passwd'}\n"),
    expect: [
      "configMap.name must be a Kubernetes object name",
      "configMap.key must be a ConfigMap or Secret key",
    ],
  },
  {
    what: "Agent credential env that is a shell command, secret names with a slash",
    yaml: agent(
      "  credentials:\n    - name: c\n      secretRef: {name: 'a/b', key: 'k/../x'}\n" +
        "      env: '1X; curl evil'\n",
    ),
    expect: [
      "env must be an environment variable name",
      "secretRef.name must be a Kubernetes object name",
      "secretRef.key must be a ConfigMap or Secret key",
    ],
  },
  {
    what: "Task description over 256 KiB (its ConfigMap must stay under 1 MiB)",
    yaml: task(`  description: '${"x".repeat(256 * 1024 + 1)}'\n`),
    expect: ["spec.description", "Too long"],
  },
  {
    what: "Task with 33 contexts",
    yaml: task(
      "  contexts:\n" + Array.from({ length: 33 }, (_, i) => `    - {name: c${i}}\n`).join(""),
    ),
    expect: ["spec.contexts", "Too many"],
  },
  {
    what: "Context of type Inline without inline",
    yaml: context("  type: Inline\n"),
    expect: ["spec.inline", "type Inline requires spec.inline (set inline.content)"],
  },
  {
    what: "Context of type Inline that also sets configMap",
    yaml: context("  type: Inline\n  inline: {content: hi}\n  configMap: {name: cm}\n"),
    expect: ["spec.configMap", "spec.configMap is only allowed when type is ConfigMap"],
  },
  {
    what: "Context of type ConfigMap with an inline source",
    yaml: context("  type: ConfigMap\n  inline: {content: hi}\n"),
    expect: [
      "type ConfigMap requires spec.configMap",
      "spec.inline is only allowed when type is Inline",
    ],
  },
  {
    what: "Context of type Git without git",
    yaml: context("  type: Git\n"),
    expect: ["type Git requires spec.git (set git.repository)"],
  },
  {
    what: "Context of an unknown type",
    yaml: context("  type: S3\n"),
    expect: ['spec.type: Unsupported value: "S3"', '"Inline", "ConfigMap", "Git"'],
  },
  {
    what: "Git Context with depth 0",
    yaml: context("  type: Git\n  git: {repository: r, depth: 0}\n"),
    expect: ["spec.git.depth", "greater than or equal to 1"],
  },
  {
    what: "Git Context asking for more history than a clone is allowed (fills the node's disk)",
    yaml: context(
      "  type: Git\n  git: {repository: 'https://git.example.test/r.git', depth: 100000}\n",
    ),
    expect: ["spec.git.depth", "less than or equal to 1000"],
  },
  {
    what: "Agent with humanInTheLoop but no command",
    yaml: agent("  humanInTheLoop: {enabled: true}\n"),
    expect: ["spec.command", "humanInTheLoop.enabled requires command"],
  },
  {
    what: "Agent credential with both env and mountPath",
    yaml: agent(
      "  credentials:\n  - {name: c, secretRef: {name: s, key: k}, env: TOKEN, mountPath: /t}\n",
    ),
    expect: [
      "spec.credentials[0]",
      "exactly one of env (environment variable) or mountPath (file)",
    ],
  },
  {
    what: "Agent credential with neither env nor mountPath",
    yaml: agent("  credentials:\n  - {name: c, secretRef: {name: s, key: k}}\n"),
    expect: ["exactly one of env (environment variable) or mountPath (file)"],
  },
  {
    what: "Agent credential with a relative mountPath",
    yaml: agent(
      "  credentials:\n  - {name: c, secretRef: {name: s, key: k}, mountPath: home/key}\n",
    ),
    expect: [
      "spec.credentials[0].mountPath",
      'mountPath must be an absolute path starting with "/"',
    ],
  },
  {
    what: "Agent credentials with the same name twice",
    yaml: agent(
      "  credentials:\n  - {name: c, secretRef: {name: s, key: k}, env: A}\n" +
        "  - {name: c, secretRef: {name: s, key: k}, env: B}\n",
    ),
    expect: ["spec.credentials[1]", "Duplicate value"],
  },
  {
    what: "Agent credential fileMode above 0777",
    yaml: agent(
      "  credentials:\n  - {name: c, secretRef: {name: s, key: k}, mountPath: /k, fileMode: 1000}\n",
    ),
    expect: ["spec.credentials[0].fileMode", "less than or equal to 511"],
  },
  {
    what: "Agent with a relative workspaceDir",
    yaml: agent("  workspaceDir: workspace\n"),
    expect: ["spec.workspaceDir", 'workspaceDir must be an absolute path starting with "/"'],
  },
  {
    what: "Agent without serviceAccountName",
    yaml:
      "apiVersion: kubetask.io/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec: {agentImage: img}\n",
    expect: ["spec.serviceAccountName: Required value"],
  },
  {
    what: "CronTask without schedule",
    yaml: cronTask(TEMPLATE),
    expect: ["spec.schedule: Required value"],
  },
  {
    what: "CronTask with a schedule that is not a cron expression",
    yaml: cronTask(`  schedule: every morning\n${TEMPLATE}`),
    expect: ["spec.schedule", "schedule must be a cron expression with 5 fields"],
  },
  {
    what: "CronTask with a name longer than 52 characters",
    yaml: cronTask(`  schedule: "@hourly"\n${TEMPLATE}`).replace(
      /name: [a-z0-9-]+/,
      `name: ${"x".repeat(53)}`,
    ),
    expect: ["CronTask names are at most 52 characters"],
  },
  {
    what: "CronTask with an unknown concurrencyPolicy",
    yaml: cronTask(`  schedule: "@hourly"\n  concurrencyPolicy: Sometimes\n${TEMPLATE}`),
    expect: [
      'spec.concurrencyPolicy: Unsupported value: "Sometimes"',
      '"Allow", "Forbid", "Replace"',
    ],
  },
  {
    what: "CronTask with a negative history limit",
    yaml: cronTask(`  schedule: "@hourly"\n  successfulTasksHistoryLimit: -1\n${TEMPLATE}`),
    expect: ["spec.successfulTasksHistoryLimit", "greater than or equal to 0"],
  },
  {
    what: "CronTask without taskTemplate",
    yaml: cronTask('  schedule: "@hourly"\n'),
    expect: ["spec.taskTemplate: Required value"],
  },
  {
    what: "Task context with a relative mountPath",
    yaml: task("  contexts:\n  - {name: guide, mountPath: guide.md}\n"),
    expect: ["spec.contexts[0].mountPath", 'mountPath must be an absolute path starting with "/"'],
  },
  {
    what: "Task with a negative keepAliveSeconds",
    yaml: task("  humanInTheLoop: {enabled: true, keepAliveSeconds: -1}\n"),
    expect: ["spec.humanInTheLoop.keepAliveSeconds", "greater than or equal to 0"],
  },
  {
    what: "Task timeout that is not a duration",
    yaml: task("  timeout: '1 day'\n"),
    expect: [
      "spec.timeout",
      'timeout must be a duration of hours, minutes and seconds such as "30m"',
    ],
  },
  {
    what: "Agent timeout of zero",
    yaml: agent("  timeout: 0s\n"),
    expect: ["spec.timeout", "greater than zero"],
  },
  {
    what: "Agent egress rule with both a CIDR and a Service",
    yaml: agent(
      "  egress:\n    mode: Restricted\n    allow:\n" +
        "    - {cidr: 10.0.0.0/8, service: {name: git}}\n",
    ),
    expect: [
      "spec.egress.allow[0]",
      "an egress.allow rule must set exactly one of cidr or service",
    ],
  },
  {
    what: "Agent egress rule with neither a CIDR nor a Service",
    yaml: agent("  egress:\n    allow:\n    - {ports: [{port: 443}]}\n"),
    expect: [
      "spec.egress.allow[0]",
      "an egress.allow rule must set exactly one of cidr or service",
    ],
  },
  {
    what: "Agent egress CIDR that is a host name",
    yaml: agent("  egress:\n    allow:\n    - {cidr: github.com}\n"),
    expect: ["spec.egress.allow[0].cidr", "egress.allow[].cidr must be a CIDR"],
  },
  {
    what: "Agent egress port range that ends below its start, and a port of 0",
    yaml: agent(
      "  egress:\n    allow:\n    - {cidr: 10.0.0.0/8, ports: [{port: 8000, endPort: 80}, {port: 0}]}\n",
    ),
    expect: [
      "spec.egress.allow[0].ports[0].endPort",
      "egress.allow[].ports[].endPort must not be below port",
      "spec.egress.allow[0].ports[1].port",
    ],
  },
  {
    what: "Agent egress mode that is not a mode",
    yaml: agent("  egress: {mode: Open}\n"),
    expect: ["spec.egress.mode", "Unsupported value"],
  },
  {
    what: "Agent egress Service name with a slash",
    yaml: agent("  egress:\n    allow:\n    - {service: {name: ../x}}\n"),
    expect: [
      "spec.egress.allow[0].service.name",
      "egress.allow[].service.name must be a Kubernetes object name",
    ],
  },
  {
    what: "Agent pod label forging the label egress policies select agent pods by",
    yaml: agent("  podSpec:\n    labels: {kubetask.io/agent-uid: other-agents-uid}\n"),
    expect: ["spec.podSpec.labels", "podSpec.labels must not set kubetask.io/agent-uid"],
  },
  {
    what: "Agent pod label forging the label a Task's Git egress policy selects its pod by",
    yaml: agent("  podSpec:\n    labels: {kubetask.io/task-uid: other-tasks-uid}\n"),
    expect: ["spec.podSpec.labels", "podSpec.labels must not set kubetask.io/task-uid"],
  },
  {
    what: "KubeTaskConfig with an unknown default egress mode",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: KubeTaskConfig\nmetadata: {name: default}\n" +
      "spec: {defaultEgressMode: DenyAll}\n",
    expect: ["spec.defaultEgressMode", "Unsupported value"],
  },
  {
    what: "Task keeping its pod alive for more than a day",
    yaml: task("  humanInTheLoop: {enabled: true, keepAliveSeconds: 86401}\n"),
    expect: ["spec.humanInTheLoop.keepAliveSeconds", "less than or equal to 86400"],
  },
  {
    what: "ContextGrant to a namespace that is not a name, and no namespaces at all",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: ContextGrant\nmetadata: {name: g}\n" +
      "spec: {namespaces: ['Team_A'], contexts: ['../x']}\n",
    expect: [
      "spec.namespaces[0]",
      "namespaces[] must be a namespace name",
      "spec.contexts[0]",
      "contexts[] must be a Kubernetes object name",
    ],
  },
  {
    what: "ContextGrant without namespaces",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: ContextGrant\nmetadata: {name: g}\n" +
      "spec: {namespaces: []}\n",
    expect: ["spec.namespaces", "should have at least 1 items"],
  },
  // A NamespaceBudget's name is the namespace it limits; only amounts a budget can mean.
  {
    what: "NamespaceBudget named as no namespace can be",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: NamespaceBudget\nmetadata: {name: team.a}\n" +
      "spec: {daily: {costUSD: '1'}}\n",
    expect: ["a NamespaceBudget is named after the namespace it limits"],
  },
  {
    what: "NamespaceBudget without a period, and a period without a limit",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: NamespaceBudget\nmetadata: {name: team-a}\n" +
      "spec: {}\n",
    expect: ["a NamespaceBudget must set daily, monthly or both"],
  },
  {
    what: "NamespaceBudget with a period that limits nothing and a negative amount",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: NamespaceBudget\nmetadata: {name: team-a}\n" +
      "spec: {daily: {}, monthly: {costUSD: '-5'}}\n",
    expect: [
      "spec.daily",
      "a period's limit must set costUSD, tokens or both",
      "spec.monthly.costUSD",
      'costUSD must be a dollar amount such as "5"',
    ],
  },
  {
    what: "KubeTaskConfig with a negative TTL",
    yaml: "apiVersion: kubetask.io/v1alpha1\nkind: KubeTaskConfig\nmetadata: {name: default}\n" +
      "spec: {taskLifecycle: {ttlSecondsAfterFinished: -5}}\n",
    expect: ["spec.taskLifecycle.ttlSecondsAfterFinished", "greater than or equal to 0"],
  },
];

Deno.test("invalid objects are rejected with a message naming the field and the fix", async (t) => {
  await installCrds();
  const ns = await testNamespace("api-invalid");
  try {
    for (const c of CASES) {
      await t.step(c.what, async () => {
        const result = await create(ns.name, c.yaml);
        assert.ok(!result.ok, `${c.what} was accepted`);
        for (const fragment of c.expect) {
          assert.ok(result.error.includes(fragment), `expected "${fragment}" in: ${result.error}`);
        }
      });
    }
  } finally {
    await ns.cleanup();
  }
});

Deno.test("a CronTask schedule is a macro or 5 fields; a seconds field is refused", async () => {
  await installCrds();
  const ns = await testNamespace("api-schedule");
  try {
    const refused = await create(
      ns.name,
      cronTask(`  schedule: "0 */10 * * * *"\n${TEMPLATE}`),
      true,
    );
    assert.ok(
      !refused.ok && /schedule must be a cron expression with 5 fields/.test(refused.error),
    );
    for (const schedule of ["@daily", "*/5 * * * *", "0 9 * * MON-FRI", "0 0 29 2 *"]) {
      const result = await create(
        ns.name,
        cronTask(`  schedule: "${schedule}"\n${TEMPLATE}`),
        true,
      );
      assert.ok(result.ok, `schedule "${schedule}" rejected: ${result.ok ? "" : result.error}`);
    }
  } finally {
    await ns.cleanup();
  }
});
