// agents/: each folder's Dockerfile (what users build) and the local build
// (what the tests run) agree on the CLI version, the user and the name, and
// the shipped Agent YAML points at that image.
import assert from "assert";
import { join } from "node:path";
import { PINNED_CLIS } from "../../../agents/clis.ts";
import { DEFAULT_IMAGE_PREFIX, LOCAL_TAG } from "../../../agents/images.ts";
import { DEFAULT_GIT_IMAGE } from "../../../controllers/task/git.ts";
import { dockerfileStages, readDocs, repoRoot } from "../ship/manifests.ts";

const final = async (folder: string) =>
  (await dockerfileStages(join(repoRoot, "agents", folder, "Dockerfile"))).at(-1)!;

Deno.test("agents: every image runs as the unprivileged numeric user, with no secret baked in", async () => {
  for (const folder of ["echo", "git", "claude-code"]) {
    const stage = await final(folder);
    assert.equal(stage.filter((i) => i.op === "USER").at(-1)?.args, "65532:65532", folder);
    for (const env of stage.filter((i) => i.op === "ENV")) {
      assert.doesNotMatch(env.args, /(KEY|TOKEN|SECRET|PASSWORD)=/i, `${folder}: ${env.args}`);
    }
  }
});

Deno.test("agents: the Claude Code Dockerfile pins the CLI version the local build uses", async () => {
  const stage = await final("claude-code");
  assert.ok(
    stage.some((i) =>
      i.op === "ARG" && i.args === `CLAUDE_CODE_VERSION=${PINNED_CLIS["claude-code"].version}`
    ),
  );
  assert.ok(stage.some((i) => i.op === "ENV" && /KUBETASK_AGENT_CLI=claude-code/.test(i.args)));
  assert.deepEqual(stage.find((i) => i.op === "ENTRYPOINT")?.args, '["kubetask-agent"]');
});

Deno.test("agents: the shipped Claude Code Agent runs the image agents/ builds", async () => {
  const docs = await readDocs(join(repoRoot, "agents/claude-code/agent.yaml"));
  const agent = docs.find((d) => d.kind === "Agent")!;
  assert.equal(
    agent.spec.agentImage,
    `${DEFAULT_IMAGE_PREFIX}/kubetask-agent-claude:${PINNED_CLIS["claude-code"].version}`,
  );
  const secret = docs.find((d) => d.kind === "Secret")!;
  const envs = agent.spec.credentials.map((c: { env: string; secretRef: { name: string } }) => {
    assert.equal(c.secretRef.name, secret.metadata.name);
    return c.env;
  });
  assert.deepEqual(envs, ["ANTHROPIC_API_KEY", "GIT_TOKEN"]);
});

Deno.test("agents: the operator's default clone image is the one agents/git builds", () => {
  assert.equal(DEFAULT_GIT_IMAGE, `${DEFAULT_IMAGE_PREFIX}/kubetask-git:${LOCAL_TAG}`);
});
