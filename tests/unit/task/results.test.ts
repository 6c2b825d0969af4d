// The agent's report: outputs and summary from its termination message, bounded.
import assert from "assert";
import {
  agentResult,
  MAX_OUTPUT_VALUE,
  MAX_OUTPUTS,
  parseTerminationMessage,
  parseUsageLine,
} from "../../../controllers/task/results.ts";

Deno.test("results: output lines become outputs; the rest is the summary", () => {
  assert.deepEqual(
    parseTerminationMessage("Done.\n::kubetask-output pr=https://x/1::\nAll green.\n"),
    { summary: "Done.\nAll green.", outputs: { pr: "https://x/1" } },
  );
  assert.deepEqual(parseTerminationMessage(""), {});
  // Not the output syntax: kept as summary text, and said.
  assert.deepEqual(parseTerminationMessage("::kubetask-output 1bad=x::"), {
    summary: "::kubetask-output 1bad=x::",
    dropped: ['1 output(s) with an invalid name ("1bad", kept in the summary as text)'],
  });
});

Deno.test("results: at most 16 outputs, values and summary cut to their bounds", () => {
  const lines = Array.from({ length: 20 }, (_, i) => `::kubetask-output k${i}=v::`);
  const parsed = parseTerminationMessage(
    [...lines, `::kubetask-output long=${"x".repeat(5000)}::`].join("\n"),
  );
  assert.equal(Object.keys(parsed.outputs ?? {}).length, MAX_OUTPUTS);
  assert.ok(parsed.summary?.includes("k16=v"), "the ones over the limit stay visible as text");
  assert.ok((parsed.summary ?? "").length <= 2048);
  const one = parseTerminationMessage(`::kubetask-output long=${"x".repeat(5000)}::`);
  assert.equal(one.outputs?.long.length, MAX_OUTPUT_VALUE);
});

Deno.test("results: a usage line becomes usage, never summary; the last valid one wins", () => {
  assert.deepEqual(
    parseTerminationMessage(
      "Fixed it.\n::kubetask-usage inputTokens=10 outputTokens=2::\n" +
        "::kubetask-usage inputTokens=1234 outputTokens=56 costUSD=0.0123 model=claude-sonnet-4-5::\n",
    ),
    {
      summary: "Fixed it.",
      usage: { inputTokens: 1234, outputTokens: 56, costUSD: "0.0123", model: "claude-sonnet-4-5" },
    },
  );
  // Order is free, unknown keys are ignored.
  assert.deepEqual(parseUsageLine("::kubetask-usage model=m1 turns=3 outputTokens=7::"), {
    model: "m1",
    outputTokens: 7,
  });
});

Deno.test("results: usage values outside their bounds are left out, not passed on", () => {
  // Each would fail the CRD's schema and wedge the status write, or mislead a reader.
  assert.deepEqual(
    parseUsageLine(
      "::kubetask-usage inputTokens=-1 outputTokens=1e9 costUSD=NaN model=" + "m".repeat(200) +
        "::",
    ),
    undefined,
  );
  assert.equal(parseUsageLine("::kubetask-usage inputTokens=9999999999999999::"), undefined);
  assert.deepEqual(parseUsageLine("::kubetask-usage costUSD=0.5 toString=1 __proto__=x::"), {
    costUSD: "0.5",
  });
  assert.equal(parseUsageLine("::kubetask-usage::"), undefined);
  assert.equal(parseUsageLine("no usage here"), undefined);
});

Deno.test("results: names an object inherits (constructor, toString, valueOf) count like any other", () => {
  const lines = Array.from({ length: MAX_OUTPUTS }, (_, i) => `::kubetask-output k${i}=v::`);
  const wedge = ["constructor", "toString", "valueOf", "hasOwnProperty"]
    .map((n) => `::kubetask-output ${n}=x::`);
  const parsed = parseTerminationMessage([...lines, ...wedge].join("\n"));
  assert.equal(Object.keys(parsed.outputs ?? {}).length, MAX_OUTPUTS);
  assert.ok(parsed.summary?.includes("::kubetask-output constructor=x::"), String(parsed.summary));
  // As outputs of their own, they are kept like any name.
  const own = parseTerminationMessage(
    "::kubetask-output constructor=c::\n::kubetask-output toString=t::",
  );
  assert.deepEqual(own, { outputs: { constructor: "c", toString: "t" } });
});

Deno.test("results: the agent container of the newest finished pod", () => {
  const pod = (finishedAt: string, exitCode: number, message: string) => ({
    status: {
      containerStatuses: [
        { name: "sidecar", state: { terminated: { exitCode: 9, finishedAt } } },
        { name: "agent", state: { terminated: { exitCode, finishedAt, message } } },
      ],
    },
  });
  assert.deepEqual(
    agentResult([pod("2030-01-01T00:00:02Z", 3, "late"), pod("2030-01-01T00:00:01Z", 0, "early")]),
    { exitCode: 3, summary: "late" },
  );
  assert.equal(agentResult([{ status: { containerStatuses: [] } }]), undefined);
  assert.equal(agentResult([]), undefined);
});
