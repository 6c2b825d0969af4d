// Every log of the local cluster is capped: a component that writes without
// pause (kube-network-policies once wrote 70 MB/s with its apiserver gone)
// costs at most the cap on disk, its newest output kept.
import assert from "assert";
import { join } from "node:path";
import { CappedLog, startLogOf } from "../../../localcluster/capped_log.ts";
import { startProcess, stopProcesses } from "../../../localcluster/process.ts";

const size = (path: string) => Deno.stat(path).then((s) => s.size, () => 0);

async function withScratch(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-log-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("capped log: past its cap it does not grow; its start and newest output are kept", async () => {
  await withScratch(async (dir) => {
    const path = join(dir, "c.log");
    const log = new CappedLog(path, 1_600); // an eighth (200 bytes) for the start, 700 per half
    const line = (i: number) => `line ${String(i).padStart(4, "0")}\n`; // 10 bytes
    for (let i = 0; i < 1_000; i++) log.write(new TextEncoder().encode(line(i))); // 10 kB
    log.close();
    const start = await Deno.readTextFile(startLogOf(path));
    const current = await Deno.readTextFile(path);
    const older = await Deno.readTextFile(`${path}.1`);
    assert.equal(start, Array.from({ length: 20 }, (_, i) => line(i)).join(""));
    assert.ok(current.length <= 700 && older.length <= 700, `${current.length}, ${older.length}`);
    assert.ok(current.endsWith(line(999)), "the newest line is in the current half");
    const first = Number(current.slice(5, 9));
    assert.ok(older.endsWith(line(first - 1)), "the older half ends where the current one begins");
  });
});

Deno.test("capped log: a chunk larger than half the cap keeps its first and newest bytes", async () => {
  await withScratch(async (dir) => {
    const path = join(dir, "big.log");
    const log = new CappedLog(path, 160); // 20 bytes for the start, 70 per half
    log.write(new TextEncoder().encode("a".repeat(200) + "b".repeat(50)));
    log.close();
    assert.equal(await Deno.readTextFile(startLogOf(path)), "a".repeat(20));
    assert.equal(await Deno.readTextFile(path), "a".repeat(20) + "b".repeat(50));
  });
});

Deno.test("capped log: a real process writing without pause stays within the cap", async () => {
  await withScratch(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    const cap = 64 * 1024;
    Deno.env.set("KUBETASK_LOG_CAP_BYTES", String(cap));
    let flood;
    try {
      flood = await startProcess("flood", dir, "yes", ["kubetask log line"]);
    } finally {
      Deno.env.delete("KUBETASK_LOG_CAP_BYTES");
    }
    try {
      const log = join(dir, "logs", "flood.log");
      // What it wrote, from the kernel's count: well past the cap, twice.
      const written = () =>
        Number(Deno.readTextFileSync(`/proc/${flood.pid}/io`).match(/wchar: (\d+)/)![1]);
      for (const past of [20 * cap, 200 * cap]) {
        while (written() < past) await new Promise((r) => setTimeout(r, 20));
        const onDisk = (await size(log)) + (await size(`${log}.1`)) + (await size(startLogOf(log)));
        console.log(`wrote ${written()} bytes, ${onDisk} on disk (cap ${cap})`);
        assert.ok(onDisk <= cap, `${onDisk} bytes on disk, cap ${cap}`);
      }
      // Caught between a rotation's rename and the new file, the newest lines are in NAME.log.1.
      const newest = await Deno.readTextFile(log).catch(() => Deno.readTextFile(`${log}.1`));
      assert.ok(newest.includes("kubetask log line\n"), "what the process wrote is kept");
    } finally {
      await stopProcesses([flood], 5_000);
    }
  });
});
