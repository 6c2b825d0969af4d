// The budget ledger (reserve, cross, settle, start from usageSoFar) and the
// batched usage reporter (one write per Task per flush, never concurrent,
// never backwards, retried after a failure).
import assert from "assert";
import { BudgetLedger, emptyUsage, type TaskEntry } from "../../../gateway/ledger.ts";
import { UsageReporter } from "../../../gateway/reporter.ts";
import type { TaskIdentity, Usage } from "../../../gateway/types.ts";

function identity(over: Partial<TaskIdentity> = {}): TaskIdentity {
  return {
    namespace: "ns",
    task: "t",
    taskUid: "uid-1",
    agent: "a",
    pod: "p",
    provider: {
      name: "prov",
      protocol: "anthropic-messages",
      upstreamURL: "http://x",
      key: "k",
      prices: [],
      defaultMaxOutputTokens: 10,
    },
    ...over,
  };
}

const tokens = (input: number, output: number) => ({ input, output, cacheRead: 0, cacheWrite: 0 });

Deno.test("ledger: reservations count against the budget until settled by actual usage", () => {
  const ledger = new BudgetLedger();
  const id = identity({ budget: { costUSD: "5.00" } });
  const a = ledger.reserve(id, { tokens: 100, costNano: 3e9 });
  assert.ok(a.ok);
  // 3 reserved + 3 more > 5: refused, and the Task is marked.
  const b = ledger.reserve(id, { tokens: 100, costNano: 3e9 });
  assert.deepEqual(b, {
    ok: false,
    message: "KubeTask budget exhausted: Task t used $0.00 of $5.00",
  });
  assert.equal(ledger.get("uid-1")!.exceeded, b.ok ? "" : b.message);
  a.reservation.settle(tokens(10, 20), 4_970_000_000, "m");
  const e = ledger.get("uid-1")!;
  assert.equal(e.usage.costNanoUSD, 4_970_000_000);
  assert.equal(e.usage.requests, 1);
  // Marked: everything is refused with the first message.
  assert.equal(ledger.reserve(id, { tokens: 1, costNano: 1 }).ok, false);
});

Deno.test("ledger: exactly at the cap fits; a stream's actual usage crossing it is reported", () => {
  const ledger = new BudgetLedger();
  const id = identity({ budget: { tokens: 100 } });
  const r = ledger.reserve(id, { tokens: 100, costNano: 0 });
  assert.ok(r.ok);
  assert.equal(r.reservation.update({ tokens: 100, costNano: 0 }), false);
  assert.equal(r.reservation.update({ tokens: 101, costNano: 0 }), true);
  assert.equal(ledger.get("uid-1")!.exceeded, undefined, "the proxy marks, not the update");
});

Deno.test("ledger: the first sight of a Task starts from usageSoFar, later identities do not reset it", () => {
  const ledger = new BudgetLedger();
  const soFar: Usage = {
    ...emptyUsage(),
    inputTokens: 50,
    outputTokens: 5,
    costNanoUSD: 7,
    requests: 3,
  };
  const r = ledger.reserve(identity({ usageSoFar: soFar }), { tokens: 1, costNano: 0 });
  assert.ok(r.ok);
  r.reservation.settle(tokens(10, 1), 2, "m");
  r.reservation.settle(tokens(10, 1), 2, "m"); // settling twice counts once
  const stale = ledger.reserve(identity({ usageSoFar: soFar }), { tokens: 1, costNano: 0 });
  assert.ok(stale.ok);
  stale.reservation.settle(tokens(0, 0), 0, undefined);
  assert.deepEqual(ledger.get("uid-1")!.usage, {
    inputTokens: 60,
    outputTokens: 6,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costNanoUSD: 9,
    requests: 5,
    model: "m",
  });
});

Deno.test("ledger: the message names tokens when only tokens are limited", () => {
  const ledger = new BudgetLedger();
  const id = identity({ budget: { tokens: 10 } });
  assert.deepEqual(ledger.reserve(id, { tokens: 11, costNano: 0 }), {
    ok: false,
    message: "KubeTask budget exhausted: Task t used 0 of 10 tokens",
  });
});

function entry(uid: string): TaskEntry {
  return {
    namespace: "ns",
    task: `task-${uid}`,
    taskUid: uid,
    usage: emptyUsage(),
    inFlight: new Set(),
  };
}

Deno.test("reporter: one write per changed Task per flush, with the whole cumulative usage", async () => {
  const writes: { task: string; usage: Usage }[] = [];
  const reporter = new UsageReporter({
    writer: {
      write: (_ns, task, _uid, usage) => {
        writes.push({ task, usage: { ...usage } });
        return Promise.resolve();
      },
    },
  });
  const a = entry("a"), b = entry("b");
  for (let i = 0; i < 5; i++) {
    a.usage.requests++;
    reporter.changed(a, false);
  }
  b.usage.requests = 2;
  reporter.changed(b, false);
  await reporter.flush();
  assert.deepEqual(writes.map((w) => [w.task, w.usage.requests]), [["task-a", 5], ["task-b", 2]]);
  await reporter.flush();
  assert.equal(writes.length, 2, "nothing changed, nothing written");
  await reporter.close();
});

Deno.test("reporter: writes of one Task never overlap and never go backwards; a failure is retried", async () => {
  let running = 0;
  let maxRunning = 0;
  let fail = 1;
  const written: number[] = [];
  const gates: (() => void)[] = [];
  const reporter = new UsageReporter({
    writer: {
      write: async (_ns, _t, _u, usage) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        if (fail-- > 0) throw new Error("apiserver down");
        written.push(usage.requests);
      },
    },
  });
  const a = entry("a");
  a.usage.requests = 1;
  reporter.changed(a, true); // urgent: starts at once
  const flushes: Promise<void>[] = [];
  for (let i = 2; i <= 4; i++) {
    a.usage.requests = i;
    reporter.changed(a, false);
    flushes.push(reporter.flush());
  }
  // Let every write through as it comes.
  const release = setInterval(() => gates.shift()?.(), 1);
  await Promise.all(flushes);
  await reporter.flush(); // the failed first write left the Task dirty
  clearInterval(release);
  assert.equal(maxRunning, 1);
  assert.deepEqual(written, [...written].sort((x, y) => x - y), "a write went backwards");
  assert.equal(written.at(-1), 4);
  await reporter.close();
});

Deno.test("reporter: a budget mark is written at once, without waiting for the interval", async () => {
  const marks: (string | undefined)[] = [];
  const reporter = new UsageReporter({
    writer: {
      write: (_ns, _t, _u, _usage, exceeded) => {
        marks.push(exceeded);
        return Promise.resolve();
      },
    },
    intervalMs: 3_600_000,
  });
  reporter.start();
  const ledger = new BudgetLedger((e, urgent) => reporter.changed(e, urgent));
  const id = identity({ budget: { tokens: 1 } });
  assert.equal(ledger.reserve(id, { tokens: 2, costNano: 0 }).ok, false);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(marks, ["KubeTask budget exhausted: Task t used 0 of 1 tokens"]);
  await reporter.close();
});
