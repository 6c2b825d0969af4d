// A namespace's budget per UTC day and month: the periods' arithmetic (month
// ends, leap years, the reset instants), what a status count says of the
// current period, and the gate: a new Task of an Agent with a modelProvider
// stays Queued (BudgetExhausted, an Event, woken at the reset) while a period's
// spend has reached its limit, and starts once it has reset or been raised.
import assert from "assert";
import {
  formatNanoUSD,
  namespaceExhausted,
  periodReset,
  periodStart,
  spentIn,
} from "../../../controllers/task/namespace_budget.ts";
import { mapNamespaceBudgetToTasks } from "../../../controllers/task/controller.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "../../../controllers/task/job.ts";
import { type NamespaceBudget, namespaceBudget } from "../../../api/v1alpha1/index.ts";
import {
  AgentResource,
  NamespaceBudgetResource,
  TaskResource,
} from "../../../controllers/kinds.ts";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const at = (iso: string) => new Date(iso);
const iso = (d: Date) => d.toISOString();

Deno.test("namespace budget: a day runs from 00:00 UTC to the next, whatever the time of day", () => {
  for (const now of ["2026-12-06T00:00:00.000Z", "2026-12-06T13:14:15.000Z"]) {
    assert.equal(iso(periodStart("daily", at(now))), "2026-12-06T00:00:00.000Z");
    assert.equal(iso(periodReset("daily", at(now))), "2026-12-07T00:00:00.000Z");
  }
  // The last millisecond of a day is still that day.
  assert.equal(
    iso(periodStart("daily", at("2026-12-06T23:59:59.999Z"))),
    "2026-12-06T00:00:00.000Z",
  );
  // Month and year ends roll over.
  assert.equal(iso(periodReset("daily", at("2026-01-31T20:00:00Z"))), "2026-02-01T00:00:00.000Z");
  assert.equal(iso(periodReset("daily", at("2026-12-31T23:59:59Z"))), "2027-01-01T00:00:00.000Z");
  // Leap years: 29 February exists in 2028, not in 2026 or 2100; it does in 2000.
  assert.equal(iso(periodReset("daily", at("2028-02-28T12:00:00Z"))), "2028-02-29T00:00:00.000Z");
  assert.equal(iso(periodReset("daily", at("2028-02-29T12:00:00Z"))), "2028-03-01T00:00:00.000Z");
  assert.equal(iso(periodReset("daily", at("2026-02-28T12:00:00Z"))), "2026-03-01T00:00:00.000Z");
  assert.equal(iso(periodReset("daily", at("2100-02-28T12:00:00Z"))), "2100-03-01T00:00:00.000Z");
  assert.equal(iso(periodReset("daily", at("2000-02-28T12:00:00Z"))), "2000-02-29T00:00:00.000Z");
});

Deno.test("namespace budget: a month runs from the 1st, 00:00 UTC, to the next 1st", () => {
  assert.equal(iso(periodStart("monthly", at("2026-12-06T10:00:00Z"))), "2026-12-01T00:00:00.000Z");
  assert.equal(iso(periodReset("monthly", at("2026-12-06T10:00:00Z"))), "2027-01-01T00:00:00.000Z");
  assert.equal(iso(periodReset("monthly", at("2026-01-31T23:59:59Z"))), "2026-02-01T00:00:00.000Z");
  assert.equal(iso(periodReset("monthly", at("2028-02-29T23:00:00Z"))), "2028-03-01T00:00:00.000Z");
  assert.equal(iso(periodStart("monthly", at("2028-02-29T23:00:00Z"))), "2028-02-01T00:00:00.000Z");
  assert.equal(iso(periodReset("monthly", at("2026-04-30T23:59:59Z"))), "2026-05-01T00:00:00.000Z");
  // UTC, not the machine's zone: a time just after midnight UTC is the new month already.
  assert.equal(
    iso(periodStart("monthly", at("2026-03-01T00:00:01+01:00"))),
    "2026-02-01T00:00:00.000Z",
  );
  assert.equal(iso(periodStart("monthly", at("2026-03-01T00:00:01Z"))), "2026-03-01T00:00:00.000Z");
});

Deno.test("namespace budget: a count of another period than the current one counts nothing", () => {
  const count = {
    periodStart: "2026-12-06T00:00:00Z",
    costUSD: "1.000000001",
    tokens: 7,
    requests: 2,
  };
  assert.deepEqual(spentIn(count, "daily", at("2026-12-06T23:59:59Z")), {
    costNano: 1_000_000_001,
    tokens: 7,
    requests: 2,
  });
  assert.deepEqual(spentIn(count, "daily", at("2026-12-07T00:00:00Z")), {
    costNano: 0,
    tokens: 0,
    requests: 0,
  });
  assert.equal(formatNanoUSD(1_000_000_001), "1.000000001");
  assert.equal(formatNanoUSD(5e9), "5");
  assert.equal(formatNanoUSD(0), "0");
});

function budget(spec: unknown, status?: unknown): NamespaceBudget {
  return namespaceBudget.parse({ metadata: { name: "team" }, spec, status });
}

Deno.test("namespace budget: exhausted once a period's spend reaches its limit, released at its reset", () => {
  const now = at("2026-12-06T21:00:00Z");
  const today = { periodStart: "2026-12-06T00:00:00Z", tokens: 10, requests: 1 };
  assert.equal(
    namespaceExhausted(
      budget({ daily: { costUSD: "5" } }, { daily: { ...today, costUSD: "4.99" } }),
      now,
    ),
    undefined,
  );
  const out = namespaceExhausted(
    budget({ daily: { costUSD: "5" } }, { daily: { ...today, costUSD: "5" } }),
    now,
  );
  assert.equal(
    out?.message,
    'namespace "team" used $5.00 of $5.00 today (daily budget) of ' +
      'NamespaceBudget "team": this Task starts when it resets at 2026-12-07T00:00:00Z',
  );
  assert.equal(iso(out!.resetAt), "2026-12-07T00:00:00.000Z");
  // Yesterday's count does not hold today's Tasks.
  assert.equal(
    namespaceExhausted(
      budget({ daily: { costUSD: "5" } }, {
        daily: { ...today, periodStart: "2026-12-05T00:00:00Z", costUSD: "9" },
      }),
      now,
    ),
    undefined,
  );
  // Tokens; and with the month exhausted too, the release waits for the month's reset.
  const both = namespaceExhausted(
    budget({ daily: { tokens: 10 }, monthly: { costUSD: "20" } }, {
      daily: { ...today, costUSD: "1" },
      monthly: { periodStart: "2026-12-01T00:00:00Z", costUSD: "20.5", tokens: 99, requests: 9 },
    }),
    now,
  );
  assert.match(
    both!.message,
    /used 10 of 10 tokens today \(daily budget\) and \$20\.50 of \$20\.00 this month/,
  );
  assert.equal(iso(both!.resetAt), "2027-01-01T00:00:00.000Z");
});

const NS = "team";
const GATEWAY: JobSettings = {
  ...DEFAULT_JOB_SETTINGS,
  gateway: {
    url: "https://gw:8443",
    caPem: "CA",
    audience: "kubetask-gateway",
    tokenExpirationSeconds: 600,
  },
};

function cluster(provider: boolean): FakeCluster {
  const c = new FakeCluster();
  c.now = at("2026-12-06T21:00:00Z");
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default", uid: "agent-uid" },
    spec: {
      agentImage: "agent:1",
      serviceAccountName: "sa",
      ...(provider ? { modelProvider: "anthropic" } : {}),
    },
  });
  c.seed(NamespaceBudgetResource, {
    metadata: { name: NS },
    spec: { daily: { costUSD: "0.01" } },
    status: {
      daily: { periodStart: "2026-12-06T00:00:00Z", costUSD: "0.01", tokens: 500, requests: 3 },
    },
  });
  c.seed(TaskResource, { metadata: { namespace: NS, name: "next" }, spec: { description: "x" } });
  return c;
}

const reconcile = (c: FakeCluster) =>
  reconcileTask({ kind: "Task", namespace: NS, name: "next" }, c.context(), GATEWAY);

Deno.test("namespace budget gate: at its daily limit, a new Task stays Queued (BudgetExhausted) until the reset", async () => {
  const c = cluster(true);
  const result = await reconcile(c);
  const task = c.stored<KubeObject>(TaskResource, NS, "next")!;
  assert.equal(task.status?.phase, "Queued");
  const ready = task.status?.conditions?.find((x: KubeObject) => x.type === "Ready");
  assert.equal(ready?.reason, "BudgetExhausted");
  assert.match(ready?.message, /used \$0\.01 of \$0\.01 today .* resets at 2026-12-07T00:00:00Z/);
  assert.equal(c.storedList(JobResource).length, 0, "no Job");
  assert.deepEqual(
    c.events.map((e) => [e.type, e.reason]),
    [["Warning", "BudgetExhausted"]],
  );
  // Woken at 00:00 UTC, three hours on.
  assert.equal(result.requeueAfterMs, 3 * 3600_000);

  // At the reset the count is yesterday's: the Task starts.
  c.now = at("2026-12-07T00:00:00Z");
  await reconcile(c);
  assert.equal(c.storedList(JobResource).length, 1, "started after the reset");
});

Deno.test("namespace budget gate: a raised limit wakes and starts the namespace's waiting Tasks", async () => {
  const c = cluster(true);
  await reconcile(c);
  assert.equal(c.storedList(JobResource).length, 0);
  c.mutate(NamespaceBudgetResource, "", NS, (b) => {
    b.spec.daily.costUSD = "1";
  });
  const woken = mapNamespaceBudgetToTasks(c.stored(NamespaceBudgetResource, "", NS)!, c);
  assert.deepEqual(woken.map((r) => `${r.namespace}/${r.name}`), [`${NS}/next`]);
  await reconcile(c);
  assert.equal(c.storedList(JobResource).length, 1);
  // A started Task is no longer woken by the budget's changes.
  c.sync();
  assert.deepEqual(mapNamespaceBudgetToTasks(c.stored(NamespaceBudgetResource, "", NS)!, c), []);
});

Deno.test("namespace budget gate: an Agent without a provider spends nothing counted, so is not held", async () => {
  const c = cluster(false);
  await reconcile(c);
  assert.equal(c.storedList(JobResource).length, 1);
});
