// Namespace budgets in the gateway: the ledger (a call reserves its worst case
// against what the namespace's day and month have left, counted in the period
// it started in), the status count it adds to (never overwritten; a later
// period starts afresh), the writer that adds it with a resourceVersion
// precondition and retries a conflict from a fresh read, and the gateway in
// front of the scripted model server: a namespace at its limit gets the CLI's
// budget error, nothing forwarded, the Task marked.
import assert from "assert";
import { addToCount, NamespaceLedger } from "../../../gateway/namespace_ledger.ts";
import { ApiSpendWriter } from "../../../gateway/namespace_budgets.ts";
import {
  ConflictError,
  type KubeObject,
  type LiveReader,
} from "../../../controllers/runtime/types.ts";
import type { ApiTransport } from "../../../controllers/runtime/transport.ts";
import type { NamespaceLimits, PeriodDelta } from "../../../gateway/types.ts";
import { anthropicRequest, post, TOKEN, withGateway } from "./support.ts";

const DAY = Date.parse("2026-12-06T00:00:00Z");
const MONTH = Date.parse("2026-12-01T00:00:00Z");
const clock = (iso: string) => {
  const c = { now: new Date(iso) };
  return { c, now: () => c.now };
};

function limits(costUSD: string, counted = "0"): NamespaceLimits {
  return {
    limits: { daily: { costUSD } },
    counted: {
      daily: { periodStart: "2026-12-06T00:00:00Z", costUSD: counted, tokens: 0, requests: 0 },
    },
  };
}

Deno.test("namespace ledger: the worst case must fit in what the day has left, in-flight holds included", () => {
  const { now } = clock("2026-12-06T21:00:00Z");
  const ledger = new NamespaceLedger(() => {}, now);
  ledger.learn("team", limits("1", "0.4"));
  const a = ledger.reserve("team", { tokens: 10, costNano: 0.5e9 });
  assert.ok(a.ok && a.hold);
  // 0.4 counted + 0.5 held + 0.2 > 1: refused, naming what was actually spent.
  assert.deepEqual(ledger.reserve("team", { tokens: 10, costNano: 0.2e9 }), {
    ok: false,
    message: "KubeTask budget exhausted: namespace team used $0.40 of $1.00 today " +
      "(resets 2026-12-07T00:00:00Z)",
  });
  // The call used less than its worst case: what it used is what counts.
  a.hold.settle({ tokens: 5, costNano: 0.1e9 });
  assert.ok(ledger.reserve("team", { tokens: 10, costNano: 0.5e9 }).ok);
  // A namespace without a budget is not limited.
  assert.deepEqual(ledger.reserve("other", { tokens: 1e9, costNano: 1e15 }), { ok: true });
});

Deno.test("namespace ledger: a new day starts from nothing; a call started yesterday is counted yesterday", () => {
  const { c, now } = clock("2026-12-06T23:59:59Z");
  const ledger = new NamespaceLedger(() => {}, now);
  ledger.learn("team", limits("1", "0.9"));
  assert.equal(ledger.reserve("team", { tokens: 1, costNano: 0.2e9 }).ok, false);
  const late = ledger.reserve("team", { tokens: 1, costNano: 0.1e9 });
  assert.ok(late.ok && late.hold);
  c.now = new Date("2026-12-07T00:00:00Z");
  // Yesterday's count and yesterday's hold leave today whole.
  assert.ok(ledger.reserve("team", { tokens: 1, costNano: 1e9 }).ok);
  late.hold.settle({ tokens: 1, costNano: 0.1e9 });
  const e = ledger.get("team")!;
  const [pending] = ledger.take(e);
  assert.equal(pending.starts.daily, DAY, "counted in the day it started in");
});

Deno.test("namespace ledger: spend being written still counts, a failed write is pending again", () => {
  const { now } = clock("2026-12-06T12:00:00Z");
  const ledger = new NamespaceLedger(() => {}, now);
  const e = ledger.learn("team", limits("1"))!;
  const r = ledger.reserve("team", { tokens: 1, costNano: 0.6e9 });
  assert.ok(r.ok && r.hold);
  r.hold.settle({ tokens: 1, costNano: 0.6e9 });
  const taken = ledger.take(e);
  assert.equal(taken.length, 1);
  assert.equal(ledger.reserve("team", { tokens: 1, costNano: 0.5e9 }).ok, false, "while writing");
  ledger.failed(e);
  assert.equal(ledger.reserve("team", { tokens: 1, costNano: 0.5e9 }).ok, false, "pending again");
  ledger.take(e);
  ledger.written(e, addToCount(e.counted, taken));
  assert.equal(e.counted.daily?.costUSD, "0.6");
  assert.equal(ledger.reserve("team", { tokens: 1, costNano: 0.5e9 }).ok, false, "counted");
  // An older read (the identity's memo) does not take the count back.
  ledger.learn("team", limits("1", "0"));
  assert.equal(e.counted.daily?.costUSD, "0.6");
});

Deno.test("namespace count: added to its period, a later period starts afresh, an older one is dropped", () => {
  const delta = (day: number, month: number, costNano: number): PeriodDelta => ({
    starts: { daily: day, monthly: month },
    spent: { costNano, tokens: 10, requests: 1 },
  });
  const counted = {
    daily: { periodStart: "2026-12-06T00:00:00Z", costUSD: "1.5", tokens: 100, requests: 4 },
    monthly: { periodStart: "2026-12-01T00:00:00Z", costUSD: "7", tokens: 900, requests: 20 },
  };
  assert.deepEqual(addToCount(counted, [delta(DAY, MONTH, 1)]), {
    daily: {
      periodStart: "2026-12-06T00:00:00Z",
      costUSD: "1.500000001",
      tokens: 110,
      requests: 5,
    },
    monthly: {
      periodStart: "2026-12-01T00:00:00Z",
      costUSD: "7.000000001",
      tokens: 910,
      requests: 21,
    },
  });
  const nextDay = Date.parse("2026-12-07T00:00:00Z");
  const nextMonth = Date.parse("2027-01-01T00:00:00Z");
  const yesterday = Date.parse("2026-12-05T00:00:00Z");
  assert.deepEqual(
    addToCount(counted, [delta(nextDay, nextMonth, 2e9), delta(yesterday, MONTH, 1e9)]),
    {
      daily: { periodStart: "2026-12-07T00:00:00Z", costUSD: "2", tokens: 10, requests: 1 },
      monthly: { periodStart: "2027-01-01T00:00:00Z", costUSD: "2", tokens: 10, requests: 1 },
    },
  );
  // Yesterday's spend written late: the day counted is today, so it goes to the month alone.
  assert.deepEqual(addToCount(counted, [delta(yesterday, MONTH, 1e9)]), {
    daily: counted.daily,
    monthly: { periodStart: "2026-12-01T00:00:00Z", costUSD: "8", tokens: 910, requests: 21 },
  });
  assert.deepEqual(addToCount({}, [delta(DAY, MONTH, 3e9)]).daily, {
    periodStart: "2026-12-06T00:00:00Z",
    costUSD: "3",
    tokens: 10,
    requests: 1,
  });
});

Deno.test("spend writer: a conflicting write is made again from a fresh read, adding to the other's", async () => {
  let stored: KubeObject = {
    metadata: { name: "team", resourceVersion: "1" },
    spec: { daily: { costUSD: "5" } },
    status: {
      daily: { periodStart: "2026-12-06T00:00:00Z", costUSD: "1", tokens: 1, requests: 1 },
    },
  };
  const puts: KubeObject[] = [];
  let raced = false;
  const client = {
    get: () => Promise.resolve(structuredClone(stored)),
    list: () => Promise.resolve([]),
  } as unknown as LiveReader;
  const transport = {
    json: (method: string, path: string, opts: { body: KubeObject; query: unknown }) => {
      assert.equal(method, "PUT");
      assert.equal(path, "/apis/kubetask.io/v1alpha1/namespacebudgets/team/status");
      puts.push(opts.body);
      if (!raced) {
        // Another replica added $2 between our read and our write.
        raced = true;
        stored = {
          ...stored,
          metadata: { ...stored.metadata, resourceVersion: "2" },
          status: { daily: { ...stored.status.daily, costUSD: "3", requests: 2 } },
        };
      }
      if (opts.body.metadata?.resourceVersion !== stored.metadata!.resourceVersion) {
        return Promise.reject(new ConflictError("409"));
      }
      stored = { ...opts.body, metadata: { ...opts.body.metadata, resourceVersion: "3" } };
      return Promise.resolve(stored);
    },
  } as unknown as ApiTransport;
  const writer = new ApiSpendWriter(transport, client, () => new Date("2026-12-06T12:00:00Z"));
  const counted = await writer.add("team", [{
    starts: { daily: DAY, monthly: MONTH },
    spent: { costNano: 0.25e9, tokens: 5, requests: 1 },
  }]);
  assert.equal(puts.length, 2);
  assert.equal(puts[0].metadata?.resourceVersion, "1");
  assert.equal(puts[1].metadata?.resourceVersion, "2");
  assert.equal(counted?.daily?.costUSD, "3.25", "ours added to the other's, nothing lost");
  assert.equal(stored.status.daily.costUSD, "3.25");
  assert.equal(stored.status.monthly.costUSD, "0.25");
  // No NamespaceBudget: nothing to count into.
  const none = new ApiSpendWriter(transport, {
    get: () => Promise.resolve(undefined),
  } as unknown as LiveReader);
  assert.equal(await none.add("team", []), undefined);
});

Deno.test("gateway: a namespace at its daily limit gets the CLI's budget error, nothing forwarded, the Task marked", async () => {
  const { now } = clock("2026-12-06T21:00:00Z");
  const namespaceBudget = limits("0.01", "0.01");
  await withGateway({ scripts: [], namespaceBudget, now }, async (h) => {
    const res = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-NS", false, 1), {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    const message = "KubeTask budget exhausted: namespace team-a used $0.01 of $0.01 today " +
      "(resets 2026-12-07T00:00:00Z)";
    assert.deepEqual(body, { type: "error", error: { type: "invalid_request_error", message } });
    assert.equal(h.upstream.requests.length, 0, "the upstream saw a request");
    await h.gateway.reporter.flush();
    assert.equal(
      h.writes.at(-1)?.budgetExceeded,
      message,
      "the Task is marked: the operator ends it",
    );
  });
});

Deno.test("gateway: what a namespace's calls cost is added to its NamespaceBudget, exactly", async () => {
  const { now } = clock("2026-12-06T21:00:00Z");
  const script = { marker: "MARK-NS2", turns: [{ text: "Done." }] };
  await withGateway({ scripts: [script], namespaceBudget: limits("5", "1"), now }, async (h) => {
    for (let i = 0; i < 2; i++) {
      const res = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-NS2", false, 100), {
        "x-api-key": TOKEN,
      });
      assert.equal(res.status, 200, await res.text());
    }
    await h.gateway.spendReporter!.flush();
    const task = h.gateway.ledger.get(h.identity.taskUid)!.usage;
    const added = h.spends.flatMap((s) => s.deltas).reduce((n, d) => n + d.spent.costNano, 0);
    assert.ok(task.costNanoUSD > 0);
    assert.equal(added, task.costNanoUSD, "the namespace is charged what its Task was");
    assert.equal(h.namespaceStatus.counted.daily?.requests, 2);
    assert.equal(
      h.namespaceStatus.counted.daily?.costUSD,
      String((1e9 + task.costNanoUSD) / 1e9),
    );
  });
});

Deno.test("gateway: a stream that crosses the namespace's cap is cut after the crossing event, the Task marked", async () => {
  const { now } = clock("2026-12-06T21:00:00Z");
  // The worst case fits (a small body, max_tokens 1); the model answers far more than that.
  const long = { marker: "MARK-NS3", turns: [{ text: "A long answer. ".repeat(120) }] };
  const namespaceBudget: NamespaceLimits = {
    limits: { daily: { tokens: 400 } },
    counted: {},
  };
  await withGateway({ scripts: [long], eventDelayMs: 5, namespaceBudget, now }, async (h) => {
    const req = anthropicRequest("MARK-NS3", true, 1);
    const res = await post(`${h.base}/v1/messages`, { ...req, tools: [{ name: "Bash" }] }, {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.includes("event: message_delta"), "the crossing event went out");
    assert.ok(!text.includes("event: message_stop"), "events after the cut went out");
    await h.gateway.reporter.flush();
    assert.match(
      h.writes.at(-1)?.budgetExceeded ?? "",
      /^KubeTask budget exhausted: namespace team-a used \d+ of 400 tokens today/,
    );
    await h.gateway.spendReporter!.flush();
    assert.ok((h.namespaceStatus.counted.daily?.tokens ?? 0) > 400, "what was used is counted");
  });
});

Deno.test("gateway restart: the next gateway starts from the count the last one wrote", async () => {
  const { now } = clock("2026-12-06T21:00:00Z");
  const script = { marker: "MARK-NS4", turns: [{ text: "Done." }, { text: "Done again." }] };
  const ask = anthropicRequest("MARK-NS4", false, 100);
  // The worst case of one such call: its bytes as input tokens plus its max_tokens.
  const worst = new TextEncoder().encode(JSON.stringify(ask)).length + 100;
  let written: NamespaceLimits["counted"] = {};
  await withGateway({
    scripts: [script],
    namespaceBudget: { limits: { daily: { tokens: 1_000_000 } }, counted: {} },
    now,
  }, async (h) => {
    const res = await post(`${h.base}/v1/messages`, ask, { "x-api-key": TOKEN });
    assert.equal(res.status, 200, await res.text());
    await h.gateway.close(); // SIGTERM: what is settled is written
    written = h.namespaceStatus.counted;
  });
  const used = written.daily?.tokens ?? 0;
  assert.ok(used > 0);
  // Room for one worst case, but not on top of what the first gateway counted.
  const limit = used + worst - 1;
  await withGateway({
    scripts: [script],
    namespaceBudget: { limits: { daily: { tokens: limit } }, counted: written },
    now,
  }, async (h) => {
    const res = await post(`${h.base}/v1/messages`, ask, { "x-api-key": TOKEN });
    assert.equal(res.status, 400);
    assert.equal(
      (await res.json()).error.message,
      `KubeTask budget exhausted: namespace team-a used ${used} of ${limit} tokens today ` +
        "(resets 2026-12-07T00:00:00Z)",
    );
  });
});
