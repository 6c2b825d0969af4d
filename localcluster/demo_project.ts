// What the real agent CLIs work on in the demo and the e2e tier: a tiny
// project with a failing test for the local git server, the model script that
// makes a CLI run the test, fix the file, run it again, commit and push a
// branch, and the shipped Agent YAML placed on the real node.
import { parse } from "yaml";
import { join } from "node:path";
import { repoRoot } from "./paths.ts";
import type { Script } from "./model_server/mod.ts";
import { REAL_NODE_SCHEDULING } from "./realnode/node_config.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** add.sh subtracts; test.sh says so. */
export const PROJECT_FILES = {
  "add.sh": "#!/bin/sh\n# Prints the sum of its two arguments.\necho $(( $1 - $2 ))\n",
  "test.sh":
    '#!/bin/sh\ngot=$(sh ./add.sh 2 3)\nif [ "$got" = 5 ]; then echo "PASS add 2 3 = 5"; else ' +
    'echo "FAIL add 2 3 = $got, want 5"; exit 1; fi\n',
};

/** Where the Task mounts the project. */
export const PROJECT_DIR = "/workspace/calc";

/** The model's part: test, fix, test, commit and push kubetask/<task>, then say so. */
export function fixAndPushScript(marker: string, task: string): Script {
  const inProject = `cd ${PROJECT_DIR} && `;
  return {
    marker,
    turns: [
      { text: "Let me run the tests first.", shell: `${inProject}sh test.sh` },
      { shell: `${inProject}sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh && sh test.sh` },
      {
        shell:
          `${inProject}git checkout -q -b kubetask/${task} && git commit -qam "Fix add.sh: add, ` +
          `do not subtract" && git push -q origin HEAD && git rev-parse HEAD`,
      },
      { text: `Fixed add.sh (it subtracted); test.sh passes. Pushed branch kubetask/${task}.` },
    ],
  };
}

/** The documents of agents/<folder>/agent.yaml: its Secret and Agent. */
export async function shippedAgent(folder: string): Promise<{ secret: Json; agent: Json }> {
  const docs = (await Deno.readTextFile(join(repoRoot, "agents", folder, "agent.yaml")))
    .split(/^---$/m).map((d) => parse(d));
  return {
    secret: docs.find((d) => d?.kind === "Secret"),
    agent: docs.find((d) => d?.kind === "Agent"),
  };
}

/** The Secret key that holds the scripted model server's URL. */
export const BASE_URL_KEY = "base-url";

/**
 * The shipped Agent spec as the demo and tests run it: on the real node, with
 * `serviceAccount`, and each of `env` (variable name → key of its Secret) as a
 * credential, such as the variable that points the CLI at the model server.
 */
export function agentOnRealNode(
  agent: Json,
  secretName: string,
  serviceAccount: string,
  env: Record<string, string> = {},
): Json {
  return {
    ...agent.spec,
    serviceAccountName: serviceAccount,
    podSpec: { ...agent.spec.podSpec, scheduling: REAL_NODE_SCHEDULING },
    credentials: [
      ...agent.spec.credentials,
      ...Object.entries(env).map(([name, key]) => ({
        name: name.toLowerCase().replaceAll("_", "-"),
        secretRef: { name: secretName, key },
        env: name,
      })),
    ],
  };
}

/** What the demo applies on a real node: the shipped Claude Code Agent, a Git context, a Task. */
export async function claudeCodeDemo(opts: {
  task: string;
  marker: string;
  repository: string;
  apiKey: string;
  gitToken: string;
  modelUrl: string;
  serviceAccount: string;
}): Promise<Json[]> {
  const { secret, agent } = await shippedAgent("claude-code");
  const secretName = secret.metadata.name;
  return [
    {
      ...secret,
      stringData: {
        "anthropic-api-key": opts.apiKey,
        "git-token": opts.gitToken,
        [BASE_URL_KEY]: opts.modelUrl,
      },
    },
    {
      ...agent,
      spec: agentOnRealNode(agent, secretName, opts.serviceAccount, {
        ANTHROPIC_BASE_URL: BASE_URL_KEY,
      }),
    },
    {
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Context",
      metadata: { name: "calc-source" },
      spec: { type: "Git", git: { repository: opts.repository, ref: "main" } },
    },
    {
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Task",
      metadata: { name: opts.task },
      spec: {
        agentRef: agent.metadata.name,
        description:
          `Make the tests of the calc project pass, then push a branch (${opts.marker}).`,
        contexts: [{ name: "calc-source", mountPath: PROJECT_DIR }],
      },
    },
  ];
}
