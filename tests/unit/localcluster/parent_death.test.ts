// Every component of the local cluster dies with the process that started it,
// even when that one is SIGKILLed and can clean nothing up. The kernel's
// parent-death signal fires when the spawning *thread* ends, so this waits
// past the 10 s after which an idle worker thread of a pool would be gone.
import assert from "assert";
import { join } from "node:path";
import { isAlive } from "../../../localcluster/process.ts";

const owner = `
import { startProcess } from ${
  JSON.stringify(new URL("../../../localcluster/process.ts", import.meta.url).href)
};
const dir = Deno.args[0];
const child = await startProcess("sleeper", dir, "sleep", ["600"]);
console.log(child.pid);
await new Promise((r) => setTimeout(r, 12_000));
console.log("waited");
setInterval(() => {}, 60_000);
`;

Deno.test("processes: a component dies with its owner, even one killed by SIGKILL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-pdeath-" });
  let sleeper = 0;
  try {
    await Deno.mkdir(join(dir, "logs"));
    await Deno.writeTextFile(join(dir, "owner.ts"), owner);
    const proc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(dir, "owner.ts"), dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = proc.stdout.pipeThrough(new TextDecoderStream()).values();
    let text = "";
    while (!text.includes("waited\n")) {
      const { value, done } = await lines.next();
      if (done) break;
      text += value;
    }
    sleeper = Number(text.split("\n")[0]);
    assert.ok(sleeper > 0, text);
    assert.equal(isAlive(sleeper), true, "the component runs while its owner does");
    proc.kill("SIGKILL");
    await proc.status;
    await lines.return?.();
    for (let i = 0; i < 100 && isAlive(sleeper); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isAlive(sleeper), false, `sleep (pid ${sleeper}) outlived its SIGKILLed owner`);
  } finally {
    if (sleeper && isAlive(sleeper)) Deno.kill(sleeper, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
