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

const CLI_FOLDERS = Object.keys(PINNED_CLIS) as (keyof typeof PINNED_CLIS)[];

Deno.test("agents: every image runs as the unprivileged numeric user, with no secret baked in", async () => {
  for (const folder of ["echo", "git", "base", ...CLI_FOLDERS]) {
    const stage = await final(folder);
    assert.equal(stage.filter((i) => i.op === "USER").at(-1)?.args, "65532:65532", folder);
    for (const env of stage.filter((i) => i.op === "ENV")) {
      assert.doesNotMatch(env.args, /(KEY|TOKEN|SECRET|PASSWORD)=/i, `${folder}: ${env.args}`);
    }
  }
});

Deno.test("agents: each CLI's Dockerfile is agents/base plus the CLI at the version the local build pins", async () => {
  const base = await final("base");
  assert.deepEqual(base.find((i) => i.op === "ENTRYPOINT")?.args, '["kubetask-agent"]');
  assert.ok(base.some((i) => i.op === "ENV" && i.args === "HOME=/home/agent"));
  for (const cli of CLI_FOLDERS) {
    const text = await Deno.readTextFile(join(repoRoot, "agents", cli, "Dockerfile"));
    assert.match(
      text,
      new RegExp(`^ARG BASE_IMAGE=${DEFAULT_IMAGE_PREFIX}/kubetask-agent-base:${LOCAL_TAG}$`, "m"),
    );
    const stage = await final(cli);
    assert.equal(stage[0].args, "${BASE_IMAGE}", cli);
    const pin = stage.find((i) => i.op === "ARG")?.args.split("=");
    assert.equal(pin?.[1], PINNED_CLIS[cli].version, `${cli}: ${pin}`);
    assert.ok(stage.some((i) => i.op === "RUN" && i.args.includes(`@\${${pin?.[0]}}`)), cli);
    assert.ok(stage.some((i) => i.op === "ENV" && i.args.includes(`KUBETASK_AGENT_CLI=${cli}`)));
    assert.ok(!stage.some((i) => i.op === "ENTRYPOINT"), `${cli}: the base's entrypoint`);
  }
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
