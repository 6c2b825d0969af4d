// The local cluster leaves nothing behind on a signal: `cluster up`'s server
// (the process that owns a real-node cluster, as `demo` and `test` do) ended
// by SIGTERM tears down as `cluster down` does; ended by SIGKILL, its
// components die with it (the kernel's parent-death signal) and the next
// `cluster up` of the name removes what they left (shims, pods, mounts,
// netns, bridge, chains) and starts. Clusters named after the run's own, which
// keeps working beside them.
import assert from "assert";
import { join } from "node:path";
import { type ClusterState, readState } from "../../localcluster/cluster.ts";
import {
  isAlive,
  isOurs,
  processesMentioning,
  type StartedProcess,
} from "../../localcluster/process.ts";
import { repoRoot } from "../../localcluster/paths.ts";
import { mountsUnder, sandboxNetns } from "../../localcluster/realnode/node.ts";
import { divertChain } from "../../localcluster/realnode/network_policies.ts";
import { serviceChain } from "../../localcluster/realnode/apiserver_service.ts";
import { onRealNode, runSleeper } from "./real_node.ts";

const TEST_CLUSTER = Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const o = await new Deno.Command(cmd, { args, cwd: repoRoot, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  return { ok: o.success, out: text };
}

/** `deno task cluster ARGS`, as a user runs it. */
function cluster(...args: string[]) {
  return run(Deno.execPath(), ["run", "-A", join(repoRoot, "localcluster", "cli.ts"), ...args]);
}

/** A cluster up by `cluster up`, with a pod running on its real node. */
async function upWithPod(name: string): Promise<ClusterState & { netns: string[] }> {
  const res = await cluster("up", name);
  assert.ok(res.ok, res.out);
  const state = await readState(name);
  assert.ok(state?.realNode && state.owner, `state of ${name}`);
  await runSleeper(state);
  return { ...state, netns: await sandboxNetns(state.realNode.containerdSocket) };
}

interface Traces {
  processes: string[];
  mounts: string[];
  bridge: boolean;
  chains: number;
  netns: string[];
}

/** What of cluster `s` is on this machine. */
async function traces(s: ClusterState & { netns: string[] }): Promise<Traces> {
  const bridge = s.realNode!.bridge;
  const links = (await run("ip", ["-o", "link", "show"])).out;
  const rules = (await run("iptables", ["-w", "-t", "mangle", "-S"])).out +
    (await run("iptables", ["-w", "-t", "nat", "-S"])).out;
  const netns = [];
  for (const path of s.netns) {
    if (await Deno.stat(path).then(() => true, () => false)) netns.push(path);
  }
  return {
    processes: (await processesMentioning(s.dir)).map((p) => `${p.pid} ${p.argv[0]}`),
    mounts: await mountsUnder(s.dir),
    bridge: links.includes(`${bridge}:`),
    chains:
      rules.split("\n").filter((l) =>
        l.includes(divertChain(bridge)) || l.includes(serviceChain(bridge))
      ).length,
    netns,
  };
}

const nothing: Traces = { processes: [], mounts: [], bridge: false, chains: 0, netns: [] };

function summary(t: Traces): string {
  return `processes ${t.processes.length}, mounts ${t.mounts.length}, bridge ${
    t.bridge ? "present" : "absent"
  }, chain rules ${t.chains}, netns ${t.netns.length}`;
}

/** Polls until `done` or `ms` passed; the last value. */
async function until<T>(ms: number, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!done(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    v = await read();
  }
  return v;
}

Deno.test(onRealNode("e2e: SIGTERM to the cluster's owner leaves nothing behind"), async () => {
  const name = `${TEST_CLUSTER}-term`;
  const s = await upWithPod(name);
  try {
    const before = await traces(s);
    console.log(`${name} before SIGTERM: ${summary(before)}`);
    assert.ok(before.processes.length >= 5 && before.mounts.length > 0, summary(before));
    assert.ok(before.bridge && before.chains > 0 && before.netns.length > 0, summary(before));
    const sent = Date.now();
    Deno.kill(s.owner!.pid, "SIGTERM");
    const after = await until(60_000, () => traces(s), (t) => summary(t) === summary(nothing));
    const ownerGone = await until(10_000, () => Promise.resolve(isOurs(s.owner)), (o) => !o);
    console.log(
      `${name} ${((Date.now() - sent) / 1000).toFixed(1)} s after SIGTERM: ${summary(after)}, ` +
        `owner ${ownerGone ? "running" : "exited"}, state folder ${await Deno.stat(s.dir).then(
          () => "present",
          () => "absent",
        )}`,
    );
    assert.deepEqual(after, nothing);
    assert.equal(ownerGone, false, "the owner exited");
  } finally {
    await cluster("down", name);
  }
});

Deno.test(
  onRealNode("e2e: SIGKILL to the owner: its components die, the next up cleans up and starts"),
  async () => {
    const name = `${TEST_CLUSTER}-kill`;
    const s = await upWithPod(name);
    try {
      const components: StartedProcess[] = [
        ...Object.values(s.processes),
        ...Object.values(s.realNode!.processes).filter((p): p is StartedProcess => !!p),
      ];
      const shims = (await processesMentioning(join(s.dir, "containerd") + "/")).filter((p) =>
        p.argv[0].includes("shim")
      );
      assert.ok(shims.length > 0, "the pod's shims run");
      Deno.kill(s.owner!.pid, "SIGKILL");
      const alive = await until(
        10_000,
        () => Promise.resolve(components.filter(isOurs).map((p) => p.argv[0])),
        (a) => a.length === 0,
      );
      const left = await traces(s);
      console.log(
        `${name} after SIGKILL: components alive ${alive.length} of ${components.length}; left: ` +
          summary(left),
      );
      assert.deepEqual(alive, [], "every component died with its owner");

      const again = await cluster("up", name);
      assert.ok(again.ok, again.out);
      const oldShims = shims.filter(isOurs);
      const oldNetns = [];
      for (const p of s.netns) {
        if (await Deno.stat(p).then(() => true, () => false)) oldNetns.push(p);
      }
      const state = await readState(name);
      console.log(
        `${name} up again: old shims alive ${oldShims.length}, old netns ${oldNetns.length}, ` +
          `node ${state?.realNode ? "Ready" : "missing"}`,
      );
      assert.deepEqual(oldShims, [], "the killed run's shims are gone");
      assert.deepEqual(oldNetns, [], "the killed run's pod netns are gone");
      assert.ok(state?.ready && state.realNode, "the new cluster is up with its node");
      assert.ok(isOurs(state.owner) && state.owner?.pid !== s.owner!.pid, "a new owner runs");
    } finally {
      await cluster("down", name);
    }
    const after = await traces(s);
    console.log(`${name} after cluster down: ${summary(after)}`);
    assert.deepEqual(after, nothing);
    assert.equal(isAlive(s.owner!.pid) && isOurs(s.owner), false);
  },
);
