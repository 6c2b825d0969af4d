import assert from "assert";
import {
  humanInTheLoopCommand,
  shellJoin,
  shellQuote,
} from "../../../controllers/task/human_in_the_loop.ts";

async function run(argv: string[]): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("shellQuote leaves plain words alone and quotes the rest", () => {
  assert.equal(shellQuote("gemini"), "gemini");
  assert.equal(shellQuote("--yolo"), "--yolo");
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), `'it'"'"'s'`);
  assert.equal(shellQuote(""), "''");
});

Deno.test("shellJoin reproduces the argv exactly through sh", async () => {
  const args = ["a b", "it's", "$HOME", "`id`", "", "*", 'say "hi"', "x;y", "line\nbreak"];
  const { stdout } = await run(["sh", "-c", shellJoin(["printf", "[%s]", ...args])]);
  assert.equal(stdout, args.map((a) => `[${a}]`).join(""));
});

Deno.test("humanInTheLoop wrapper keeps the agent's exit code and output", async () => {
  const failing = await run(humanInTheLoopCommand(["sh", "-c", "echo 'agent ran'; exit 3"], 0));
  assert.equal(failing.code, 3);
  assert.match(failing.stdout, /^agent ran\n/);
  assert.match(failing.stdout, /exited with code 3; keeping the container alive for 0s/);
  const ok = await run(humanInTheLoopCommand(["true"], 0));
  assert.equal(ok.code, 0);
});

Deno.test("humanInTheLoop wrapper sleeps for keepAliveSeconds", () => {
  const [sh, flag, script] = humanInTheLoopCommand(["gemini", "-p", "do it"], 3600);
  assert.equal(sh, "sh");
  assert.equal(flag, "-c");
  assert.equal(
    script,
    "gemini -p 'do it'; code=$?; " +
      'echo "kubetask: agent exited with code $code; keeping the container alive for 3600s (humanInTheLoop)"; ' +
      "sleep 3600; exit $code",
  );
});
