// `deno task demo`: the whole product on this machine, no cluster needed.
// Brings up the local control plane, installs the CRDs, runs the operator,
// applies the example Agent and Task and shows the Task reach its final phase.
// Where the machine can run a real node, the Agent runs there (with the local
// echo-agent image) and the demo prints what the agent process printed.
// The operator then keeps running (apply more Tasks from another shell with
// the printed KUBECONFIG) until Ctrl-C, which stops everything. `--once` exits
// after the example Task finishes.
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { down, kubectl, up } from "./cluster.ts";
import { ECHO_AGENT_IMAGE } from "../agents/images.ts";
import { REAL_NODE_LABEL, REAL_NODE_LABEL_VALUE } from "./realnode/node.ts";
import { repoRoot } from "./paths.ts";
import { RUNTIME_V8_FLAGS } from "../deploy/compile.ts";

const once = Deno.args.includes("--once");
const NAMESPACE = "kubetask-system";
const CLUSTER = Deno.env.get("KUBETASK_DEMO_CLUSTER") ?? "demo";

const state = await up(CLUSTER);
const binDir = state.kubectl.slice(0, state.kubectl.lastIndexOf("/"));
console.log(`control plane up: export KUBECONFIG=${state.kubeconfig} PATH=${binDir}:$PATH`);

let operator: Deno.ChildProcess | undefined;
const stop = async () => {
  try {
    operator?.kill("SIGTERM");
    await operator?.status;
  } catch { /* already stopped */ }
  await down(CLUSTER);
};
Deno.addSignalListener("SIGINT", async () => {
  await stop();
  Deno.exit(130);
});

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
    ],
    stdout: "inherit",
    stderr: once ? "null" : "inherit",
  }).spawn();

  let example = await Deno.readTextFile(join(repoRoot, "deploy", "examples", "simple-task.yaml"));
  if (state.realNode) {
    example = onRealNode(example);
    console.log(
      `real node ${state.realNode.node}: the example Agent runs there with ${ECHO_AGENT_IMAGE}, ` +
        "which prints the task.md it was given",
    );
  } else {
    console.log(`no real node (${state.realNodeUnavailable}): pods run on the simulated node`);
  }
  await kubectl(state, ["apply", "-f", "-"], example);
  console.log("applied deploy/examples/simple-task.yaml; watching the Task:");

  let phase = "";
  let shown = "";
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    // One read per round, so the printed table and the phase always agree.
    const table = await kubectl(state, ["get", "tasks", "-n", NAMESPACE]);
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
  if (state.realNode) {
    const log = await kubectl(state, [
      "logs",
      "-n",
      NAMESPACE,
      "job/update-service-a",
      "-c",
      "agent",
    ]);
    console.log(`what the agent printed (kubectl logs job/update-service-a):\n${log}`);
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

/** The example with its Agent moved to the real node and the local echo-agent image. */
function onRealNode(yaml: string): string {
  return parseAllDocuments(yaml).map((doc) => {
    const obj = doc.toJS();
    if (obj?.kind === "Agent") {
      obj.spec.agentImage = ECHO_AGENT_IMAGE;
      obj.spec.podSpec = {
        scheduling: {
          nodeSelector: { [REAL_NODE_LABEL]: REAL_NODE_LABEL_VALUE },
          tolerations: [{ key: REAL_NODE_LABEL, operator: "Exists", effect: "NoSchedule" }],
        },
      };
    }
    return stringify(obj);
  }).join("---\n");
}
