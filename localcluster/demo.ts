// `deno task demo`: the whole product on this machine, no cluster needed.
// Brings up the local control plane, installs the CRDs, runs the operator and
// shows a Task reach its final phase. Where the machine can run a real node,
// Claude Code (the shipped Agent and image) fixes a failing test in a demo
// repository on a local git server and pushes a branch, talking to the
// scripted model server (a stand-in for the model API, which is out of reach
// here); the demo prints its tool calls, the pushed commit and the usage.
// Without a real node it applies the example Agent and Task on the simulated
// node. The operator then keeps running (apply more Tasks from another shell
// with the printed KUBECONFIG) until Ctrl-C (or SIGTERM, SIGHUP), which stops everything. `--once`
// exits after the Task finishes.
import { join } from "node:path";
import { down, kubectl, up } from "./cluster.ts";
import { CLAUDE_CODE_IMAGE, GIT_IMAGE } from "../agents/images.ts";
import { claudeCodeDemo, fixAndPushScript, PROJECT_FILES } from "./demo_project.ts";
import { git, type GitServer, startGitServer } from "./git_server.ts";
import { type ModelServer, startModelServer } from "./model_server/mod.ts";
import { repoRoot } from "./paths.ts";
import { RUNTIME_V8_FLAGS } from "../deploy/compile.ts";
import { tearDownOnSignals } from "./signals.ts";
import { operatorEntrypoint, operatorImage } from "./realnode/operator_image.ts";

const once = Deno.args.includes("--once");
const NAMESPACE = "kubetask-system";
const CLUSTER = Deno.env.get("KUBETASK_DEMO_CLUSTER") ?? "demo";

let operator: Deno.ChildProcess | undefined;
let gitServer: GitServer | undefined;
let model: ModelServer | undefined;
const stop = async () => {
  try {
    operator?.kill("SIGTERM");
    await operator?.status;
  } catch { /* already stopped */ }
  await model?.close();
  await gitServer?.close();
  await down(CLUSTER);
};
// Ctrl-C, SIGTERM (a service manager, a CI cancel, `timeout`) and SIGHUP alike, from the start.
tearDownOnSignals("demo", stop);

const state = await up(CLUSTER);
const binDir = state.kubectl.slice(0, state.kubectl.lastIndexOf("/"));
console.log(`control plane up: export KUBECONFIG=${state.kubeconfig} PATH=${binDir}:$PATH`);

/** The Task the demo follows. */
const TASK = state.realNode ? "fix-calc" : "update-service-a";

try {
  await kubectl(state, ["apply", "-k", join(repoRoot, "deploy", "crds")]);
  await kubectl(state, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  await kubectl(state, ["create", "namespace", NAMESPACE]);
  await kubectl(state, ["create", "serviceaccount", "kubetask-agent", "-n", NAMESPACE]);

  operator = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...RUNTIME_V8_FLAGS,
      join(repoRoot, "main.ts"),
      `--kubeconfig=${state.kubeconfig}`,
      `--namespaces=${NAMESPACE}`,
      "--leader-elect=false",
      "--metrics-addr=127.0.0.1:0",
      // The clone init container: the project's git image, built for the real node.
      ...(state.realNode ? [`--git-image=${GIT_IMAGE}`] : []),
      // The Git proxy sidecar: the local operator image, whose executable is the bundle.
      ...(state.realNode
        ? [
          `--git-proxy-image=${operatorImage()}`,
          `--git-proxy-command=${JSON.stringify(operatorEntrypoint())}`,
        ]
        : []),
    ],
    stdout: "inherit",
    stderr: once ? "null" : "inherit",
  }).spawn();

  if (state.realNode) {
    const address = state.realNode.gateway;
    gitServer = await startGitServer(address);
    const repository = await gitServer.addRepository("calc", PROJECT_FILES);
    const marker = `demo-${crypto.randomUUID().slice(0, 8)}`;
    model = await startModelServer({
      hostname: address,
      scripts: [fixAndPushScript(marker, TASK)],
    });
    const objects = await claudeCodeDemo({
      task: TASK,
      marker,
      repository,
      apiKey: "sk-demo-scripted-model",
      gitToken: gitServer.token,
      modelUrl: model.url,
      serviceAccount: "kubetask-agent",
    });
    console.log(
      `real node ${state.realNode.node}: Claude Code (${CLAUDE_CODE_IMAGE}) makes the tests of a ` +
        `demo repository pass and pushes a branch to ${repository}; its model API is the scripted ` +
        `model server at ${model.url}, a stand-in for the real one`,
    );
    await kubectl(
      state,
      ["apply", "-n", NAMESPACE, "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
    );
    console.log(
      `applied the Claude Code Agent (agents/claude-code/agent.yaml) and Task ${TASK}; watching it:`,
    );
  } else {
    console.log(`no real node (${state.realNodeUnavailable}): pods run on the simulated node`);
    const example = await Deno.readTextFile(
      join(repoRoot, "deploy", "examples", "simple-task.yaml"),
    );
    await kubectl(state, ["apply", "-f", "-"], example);
    console.log("applied deploy/examples/simple-task.yaml; watching the Task:");
  }

  let phase = "";
  let shown = "";
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    // One read per round, so the printed table and the phase always agree.
    const table = await kubectl(state, ["get", "task", TASK, "-n", NAMESPACE]);
    phase = table.split("\n")[1]?.trim().split(/\s+/)[1] ?? "";
    if (phase !== shown) {
      shown = phase;
      console.log(table);
    }
    if (phase === "Completed" || phase === "Failed") break;
    await new Promise((r) => setTimeout(r, 300));
  }
  console.log(await kubectl(state, ["get", "jobs", "-n", NAMESPACE]));
  if (phase !== "Completed" && phase !== "Failed") {
    throw new Error(`Task did not finish (phase "${phase}")`);
  }
  if (state.realNode && gitServer) {
    const log = await kubectl(state, ["logs", "-n", NAMESPACE, `job/${TASK}`, "-c", "agent"]);
    console.log(`what Claude Code did (kubectl logs job/${TASK}):\n${log}`);
    const task = JSON.parse(
      await kubectl(state, ["get", "task", TASK, "-n", NAMESPACE, "-o", "json"]),
    );
    const branch = task.status?.outputs?.branch;
    if (branch) {
      const clone = await gitServer.clone("calc", branch);
      console.log(
        `the git server has branch ${branch}:\n${await git(
          clone,
          "log",
          "-1",
          "--stat",
          "--format=commit %H%n%an: %s",
        )}`,
      );
    }
    console.log(`status.usage: ${JSON.stringify(task.status?.usage ?? {})}`);
  }
  console.log(`final phase: ${phase}`);
  if (once) {
    await stop();
    Deno.exit(phase === "Completed" ? 0 : 1);
  }
  console.log("operator running; Ctrl-C stops it and the control plane");
  await operator.status;
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
  await stop();
  Deno.exit(1);
}
