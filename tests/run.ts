// `deno task test`: unit tests plus integration tests against one real control
// plane started for this run and stopped afterwards.
//
// Prints a closing "N passed, N failed" line computed from Deno's JUnit report.
import { join } from "node:path";
import { down, up } from "../localcluster/cluster.ts";
import { repoRoot } from "../localcluster/paths.ts";
import { tearDownOnSignals } from "../localcluster/signals.ts";
import { kueueTestFiles, kueueWanted } from "./kueue_wanted.ts";

// KUBETASK_TEST_CLUSTER names the cluster, so two checkouts sharing one cache can test side by side.
const CLUSTER = Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test";
const filters = Deno.args; // optional paths to run only some tests
// The real Kueue starts when the run includes its tests (kueue_wanted.ts); KUBETASK_TEST_KUEUE=0
// leaves it out (its tests are skipped), =1 starts it whatever the filters.
const KUEUE_SETTING = Deno.env.get("KUBETASK_TEST_KUEUE");
const kueueWantedHere = kueueWanted(
  filters,
  KUEUE_SETTING,
  await kueueTestFiles(repoRoot),
  repoRoot,
);
// Kueue runs in a mount namespace of its own (localcluster/kueue.ts): not as another user, unless forced.
const kueueUnavailable = Deno.uid() !== 0 ? "not root" : undefined;
const KUEUE = kueueWantedHere && (!kueueUnavailable || KUEUE_SETTING === "1");

let child: Deno.ChildProcess | undefined;
// Ctrl-C, SIGTERM (a CI cancel, `timeout`) and SIGHUP stop the tests and tear the cluster down.
tearDownOnSignals("test", async () => {
  try {
    child?.kill("SIGTERM");
    await child?.status;
  } catch { /* already ended */ }
  await down(CLUSTER);
});

const started = performance.now();
const state = await up(CLUSTER, { kueue: KUEUE });
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

if (!KUEUE && KUEUE_SETTING === "0") {
  console.error("[test] Kueue tests skipped: KUBETASK_TEST_KUEUE=0");
} else if (kueueWantedHere && !KUEUE) {
  console.error(`[test] Kueue tests skipped: ${kueueUnavailable} (Kueue needs root here)`);
}

let code = 1;
const junit = join(state.dir, "junit.xml");
try {
  child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", `--junit-path=${junit}`, ...(filters.length ? filters : ["tests/"])],
    cwd: repoRoot,
    env: {
      KUBECONFIG: state.kubeconfig,
      KUBETASK_TEST_CLUSTER: CLUSTER,
      // The line above already said why, if the e2e tier is skipped.
      KUBETASK_REAL_NODE_SKIP_SAID: "1",
      KUBETASK_KUEUE_SKIP_SAID: "1",
      PATH: `${state.kubectl.slice(0, state.kubectl.lastIndexOf("/"))}:${Deno.env.get("PATH")}`,
    },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  code = (await child.status).code;
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
    // Its components are this process's children and die with it: it stays until a signal.
    console.error(
      `[test] KUBETASK_KEEP_CLUSTER set: cluster ${CLUSTER} kept at ${state.dir}; ` +
        `Ctrl-C (or SIGTERM, or \`deno task cluster down ${CLUSTER}\`) tears it down`,
    );
    await new Promise(() => setInterval(() => {}, 3_600_000));
  } else {
    await down(CLUSTER);
  }
}
console.error(`[test] total ${((performance.now() - started) / 1000).toFixed(1)}s`);
Deno.exit(code);
