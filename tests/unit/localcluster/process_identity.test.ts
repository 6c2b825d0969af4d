// `down` signals the PIDs state.json recorded. After a reboot (or once the
// process exited) a PID may be someone else's: a process is signalled only
// while its start time and command line are still the ones recorded.
import assert from "assert";
import { join } from "node:path";
import { down } from "../../../localcluster/cluster.ts";
import {
  isAlive,
  isOurs,
  type StartedProcess,
  startProcess,
  stopProcesses,
} from "../../../localcluster/process.ts";

/** Someone else's process: a `sleep` this test starts (it stands for whatever reused the PID). */
async function bystander(dir: string): Promise<StartedProcess> {
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  return await startProcess("bystander", dir, "sleep", ["300"]);
}

async function withScratch(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-pids-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("processes: a PID with another command line or start time is not ours", async () => {
  await withScratch(async (dir) => {
    const sleeper = await bystander(dir);
    try {
      assert.equal(isOurs(sleeper), true);
      assert.equal(isOurs({ ...sleeper, argv: ["etcd", "--data-dir=/x"] }), false, "command line");
      assert.equal(isOurs({ ...sleeper, started: "another-boot/1" }), false, "start time");
      await stopProcesses([{ ...sleeper, argv: ["etcd"] }, { ...sleeper, started: "b/1" }], 200);
      assert.equal(isAlive(sleeper.pid), true, "a PID that is not ours is never signalled");
      await stopProcesses([sleeper], 5_000);
      assert.equal(isOurs(sleeper), false, "our own process is stopped");
    } finally {
      try {
        Deno.kill(sleeper.pid, "SIGKILL");
      } catch { /* stopped */ }
    }
  });
});

Deno.test("processes: `cluster down` after a reboot leaves the new owner of a recorded PID alone", async () => {
  await withScratch(async (cache) => {
    const sleeper = await bystander(cache);
    const before = Deno.env.get("KUBETASK_CACHE_DIR");
    Deno.env.set("KUBETASK_CACHE_DIR", cache);
    try {
      // The state a cluster wrote before the reboot: etcd had the PID the sleeper has now.
      const dir = join(cache, "clusters", "rebooted");
      await Deno.mkdir(dir, { recursive: true });
      const etcd = { binary: "/cache/bin/etcd", args: [`--data-dir=${dir}/etcd`] };
      await Deno.writeTextFile(
        join(dir, "state.json"),
        JSON.stringify({
          name: "rebooted",
          dir,
          commands: { etcd },
          processes: {
            etcd: { pid: sleeper.pid, argv: [etcd.binary, ...etcd.args], started: "old-boot/42" },
          },
        }),
      );
      await down("rebooted");
      assert.equal(isAlive(sleeper.pid), true, "the bystander survives");
      // An older state.json (PIDs only) is checked against the recorded command line.
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(
        join(dir, "state.json"),
        JSON.stringify({ name: "rebooted", dir, commands: { etcd }, pids: { etcd: sleeper.pid } }),
      );
      await down("rebooted");
      assert.equal(isAlive(sleeper.pid), true, "the bystander survives an older state file too");
    } finally {
      if (before === undefined) Deno.env.delete("KUBETASK_CACHE_DIR");
      else Deno.env.set("KUBETASK_CACHE_DIR", before);
      try {
        Deno.kill(sleeper.pid, "SIGKILL");
      } catch { /* gone */ }
    }
  });
});
