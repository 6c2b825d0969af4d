// `deno fmt`, `deno lint` and `deno check` stay clean: run them as tests so CI
// fails on drift, with the tool's own output as the failure message.
import assert from "assert";
import { repoRoot } from "../../localcluster/paths.ts";

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, output: text.slice(-4000) };
}

for (
  const [name, args] of [
    ["deno fmt --check", ["fmt", "--check"]],
    ["deno lint", ["lint"]],
    ["deno check", ["check", "."]],
  ] as const
) {
  Deno.test(`static checks: ${name} is clean`, async () => {
    const { code, output } = await deno([...args]);
    assert.equal(code, 0, output);
  });
}
