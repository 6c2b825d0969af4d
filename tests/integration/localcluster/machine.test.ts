// The running test cluster, as the developer's machine sees it: its secrets
// are private to root, and every process it recorded is recognised as its own
// (so `cluster down` stops all of them, and nothing else).
import assert from "assert";
import { join } from "node:path";
import { isOurs } from "../../../localcluster/process.ts";
import { clusterState } from "../env.ts";

const mode = async (path: string) => (((await Deno.stat(path)).mode ?? 0) & 0o777).toString(8);

Deno.test("local cluster: its folder is 0700, keys, tokens, kubeconfigs and state 0600", async () => {
  const state = await clusterState();
  assert.ok(state, "the test cluster's state");
  assert.equal(await mode(state.dir), "700", state.dir);
  assert.equal(await mode(join(state.dir, "pki")), "700");
  for (
    const file of ["admin.kubeconfig", "state.json", "pki/tokens.csv", "pki/ca.key", "pki/sa.key"]
  ) {
    assert.equal(await mode(join(state.dir, file)), "600", file);
  }
});

Deno.test("local cluster: every recorded process is recognised by its start time and command line", async () => {
  const state = await clusterState();
  assert.ok(state, "the test cluster's state");
  const recorded = { ...state.processes, ...(state.realNode?.processes ?? {}) };
  assert.ok(Object.keys(recorded).length >= 5, Object.keys(recorded).join(", "));
  for (const [component, p] of Object.entries(recorded)) {
    assert.ok(p?.started, `${component}: start time recorded`);
    assert.equal(isOurs(p), true, `${component} (pid ${p?.pid}) is recognised`);
  }
});
