// What the real agent CLIs work on in the e2e tier: a tiny project with a
// failing test on the local git server, and the model script that makes a CLI
// run the test, fix the file, run it again, commit and push a branch.
import { parse } from "yaml";
import { join } from "node:path";
import { repoRoot } from "../../../localcluster/paths.ts";
import type { Script } from "../../../localcluster/model_server/mod.ts";
import type { Json } from "../../integration/task/harness.ts";
import { realNodeAgent } from "../real_node.ts";

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

/**
 * The shipped Agent as a test applies it: on the real node, with the test
 * Secret's values, and `extra` credentials (such as the model server's URL).
 */
export function onTheRealNode(agent: Json, serviceAccount: string, extra: Json[] = []): Json {
  const spec = realNodeAgent({ ...agent.spec, serviceAccountName: serviceAccount });
  return { ...spec, credentials: [...spec.credentials, ...extra] };
}
