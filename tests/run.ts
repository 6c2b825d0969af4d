// `deno task test`: unit tests plus integration tests against one real control
// plane started for this run and stopped afterwards.
//
// Prints a closing "N passed, N failed" line computed from Deno's JUnit report.
import { join } from "node:path";
import { down, up } from "../localcluster/cluster.ts";
import { repoRoot } from "../localcluster/paths.ts";

// KUBETASK_TEST_CLUSTER names the cluster, so two checkouts sharing one cache can test side by side.
const CLUSTER = Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test";
const filters = Deno.args; // optional paths to run only some tests

const started = performance.now();
const state = await up(CLUSTER);
console.error(
  `[test] control plane up at ${state.server} in ${
    ((performance.now() - started) / 1000).toFixed(1)
  }s`,
);

if (!state.realNode) {
  // One line for the whole tier (each e2e test then shows as ignored).
  console.error(
    `[test] e2e tests on a real node skipped: ${state.realNodeUnavailable ?? "no real node"}`,
  );
}

let code = 1;
const junit = join(state.dir, "junit.xml");
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", `--junit-path=${junit}`, ...(filters.length ? filters : ["tests/"])],
    cwd: repoRoot,
    env: {
      KUBECONFIG: state.kubeconfig,
      KUBETASK_TEST_CLUSTER: CLUSTER,
      // The line above already said why, if the e2e tier is skipped.
      KUBETASK_REAL_NODE_SKIP_SAID: "1",
      PATH: `${state.kubectl.slice(0, state.kubectl.lastIndexOf("/"))}:${Deno.env.get("PATH")}`,
    },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Ctrl-C stops the tests and still tears the cluster down.
  const onSignal = () => child.kill("SIGTERM");
  Deno.addSignalListener("SIGINT", onSignal);
  code = (await child.status).code;
  Deno.removeSignalListener("SIGINT", onSignal);
  const report = await Deno.readTextFile(junit).catch(() => "");
  const cases = [...report.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)];
  const failed = cases.filter((m) => /<failure\b/.test(m[2] ?? "")).length;
  const skipped = cases.filter((m) => /<skipped\b/.test(m[2] ?? "")).length;
  const passed = cases.length - failed - skipped;
  console.log(
    `\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`,
  );
  if (cases.length === 0) code = code || 1;
} finally {
  if (Deno.env.get("KUBETASK_KEEP_CLUSTER")) {
    console.error(`[test] KUBETASK_KEEP_CLUSTER set: cluster left at ${state.dir}`);
  } else {
    await down(CLUSTER);
  }
}
console.error(`[test] total ${((performance.now() - started) / 1000).toFixed(1)}s`);
Deno.exit(code);
