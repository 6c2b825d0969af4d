// The namespace ledger: per namespace with a NamespaceBudget, what its status
// counted in the current UTC day and month (as last read or written), what
// this gateway settled since and has not written yet, and what its calls in
// flight reserved. A call reserves its worst case in the periods it starts in
// and is counted there when it settles (so a stream that runs past midnight
// stays in the day it was allowed in). The status is the durable count:
// spend is added to it (never overwritten) by one writer at a time per
// namespace, with the resourceVersion as precondition (namespace_budgets.ts).
import {
  BUDGET_PERIODS,
  type BudgetPeriod,
  type PeriodSpend,
} from "../api/v1alpha1/namespacebudget.ts";
import {
  periodCount,
  periodNow,
  periodReset,
  periodStart,
  type Spent,
  spentIn,
  usedOf,
} from "../controllers/task/namespace_budget.ts";
import { rfc3339 } from "../controllers/runtime/conditions.ts";
import { parseUSD } from "./money.ts";
import type { Amount } from "./ledger.ts";
import type { NamespaceCount, NamespaceLimits, PeriodDelta } from "./types.ts";

export class NamespaceHold {
  actual: Amount = { tokens: 0, costNano: 0 };
  private done = false;
  constructor(
    private readonly ledger: NamespaceLedger,
    readonly entry: NamespaceEntry,
    readonly worst: Amount,
    readonly starts: Record<BudgetPeriod, number>,
  ) {}

  /** Replaces the hold with what the call used, counted in the periods it started in. */
  settle(used: Amount): void {
    if (this.done) return;
    this.done = true;
    this.entry.inFlight.delete(this);
    addDelta(this.entry.pending, {
      starts: this.starts,
      spent: { costNano: used.costNano, tokens: used.tokens, requests: 1 },
    });
    this.ledger.changed(this.entry);
  }
}

export interface NamespaceEntry {
  namespace: string;
  limits: NamespaceLimits["limits"];
  /** The status as best known: the newer period, or within one the larger count (spend only grows). */
  counted: NamespaceCount;
  /** Settled here, not yet written. */
  pending: PeriodDelta[];
  /** Taken by the write under way: still counted until the apiserver's answer is. */
  writing: PeriodDelta[];
  inFlight: Set<NamespaceHold>;
}

export type Held = { ok: true; hold?: NamespaceHold } | { ok: false; message: string };

export class NamespaceLedger {
  private readonly namespaces = new Map<string, NamespaceEntry>();

  constructor(
    private readonly onChange: (entry: NamespaceEntry) => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** What the glue read of the namespace's NamespaceBudget (undefined: it has none). */
  learn(namespace: string, read: NamespaceLimits | undefined): NamespaceEntry | undefined {
    let e = this.namespaces.get(namespace);
    if (!read) {
      // No budget (any more): nothing limits or counts the namespace's calls.
      if (e) e.limits = {};
      return e;
    }
    if (!e) {
      e = {
        namespace,
        limits: read.limits,
        counted: {},
        pending: [],
        writing: [],
        inFlight: new Set(),
      };
      this.namespaces.set(namespace, e);
    }
    e.limits = read.limits;
    this.record(e, read.counted);
    return e;
  }

  get(namespace: string): NamespaceEntry | undefined {
    return this.namespaces.get(namespace);
  }

  /** Takes a count the apiserver has (read, or the answer to a write), keeping the newer. */
  record(e: NamespaceEntry, counted: NamespaceCount): void {
    for (const period of BUDGET_PERIODS) {
      const next = counted[period];
      const known = e.counted[period];
      if (!next) continue;
      if (!known || newer(next, known)) e.counted[period] = next;
    }
  }

  /** Reserves a call's worst case in every limited period, or refuses it (the message says why). */
  reserve(namespace: string, worst: Amount): Held {
    const e = this.namespaces.get(namespace);
    if (!e || !(e.limits.daily || e.limits.monthly)) return { ok: true };
    const now = this.now();
    for (const period of BUDGET_PERIODS) {
      const limit = e.limits[period];
      if (!limit) continue;
      const held = this.spent(e, period, now, true);
      const cost = limit.costUSD === undefined ? undefined : parseUSD(limit.costUSD);
      if (
        cost !== undefined && held.costNano + worst.costNano > cost ||
        limit.tokens !== undefined && held.tokens + worst.tokens > limit.tokens
      ) {
        return { ok: false, message: this.message(e, period, now) };
      }
    }
    const starts = {
      daily: periodStart("daily", now).getTime(),
      monthly: periodStart("monthly", now).getTime(),
    };
    const hold = new NamespaceHold(this, e, worst, starts);
    e.inFlight.add(hold);
    return { ok: true, hold };
  }

  /** Why the namespace's actual spend (streams in flight included) is over a limit, if it is. */
  over(namespace: string): string | undefined {
    const e = this.namespaces.get(namespace);
    if (!e) return undefined;
    const now = this.now();
    for (const period of BUDGET_PERIODS) {
      const limit = e.limits[period];
      if (!limit) continue;
      const spent = this.spent(e, period, now, false);
      if (
        limit.costUSD !== undefined && spent.costNano > parseUSD(limit.costUSD) ||
        limit.tokens !== undefined && spent.tokens > limit.tokens
      ) {
        return this.message(e, period, now);
      }
    }
    return undefined;
  }

  /** Takes the pending spend to write (counted as writing); `written` or `failed` follows. */
  take(e: NamespaceEntry): PeriodDelta[] {
    e.writing = e.pending.splice(0);
    return [...e.writing];
  }

  /** The write landed: the apiserver's count now holds what was taken. */
  written(e: NamespaceEntry, counted: NamespaceCount): void {
    e.writing = [];
    this.record(e, counted);
  }

  /** The write failed (or there was nothing to write into): what was taken is pending again. */
  failed(e: NamespaceEntry): void {
    for (const d of e.writing.splice(0)) addDelta(e.pending, d);
  }

  entries(): NamespaceEntry[] {
    return [...this.namespaces.values()];
  }

  changed(e: NamespaceEntry): void {
    this.onChange(e);
  }

  /** Spent in the current `period`: counted + pending + in flight (their worst case, if `held`). */
  private spent(e: NamespaceEntry, period: BudgetPeriod, now: Date, held: boolean): Spent {
    const start = periodStart(period, now).getTime();
    let s = spentIn(e.counted[period], period, now);
    for (const d of [...e.pending, ...e.writing]) {
      if (d.starts[period] === start) s = plus(s, d.spent);
    }
    for (const h of e.inFlight) {
      if (h.starts[period] !== start) continue;
      const a = held
        ? {
          tokens: Math.max(h.worst.tokens, h.actual.tokens),
          costNano: Math.max(h.worst.costNano, h.actual.costNano),
        }
        : h.actual;
      s = plus(s, { ...a, requests: 0 });
    }
    return s;
  }

  private message(e: NamespaceEntry, period: BudgetPeriod, now: Date): string {
    const spent = this.spent(e, period, now, false);
    return `KubeTask budget exhausted: namespace ${e.namespace} used ` +
      `${usedOf(spent, e.limits[period]!)} ${periodNow(period)} (resets ` +
      `${rfc3339(periodReset(period, now))})`;
  }
}

function plus(a: Spent, b: Spent): Spent {
  return {
    costNano: a.costNano + b.costNano,
    tokens: a.tokens + b.tokens,
    requests: a.requests + b.requests,
  };
}

function addDelta(list: PeriodDelta[], d: PeriodDelta): void {
  const same = list.find((x) => BUDGET_PERIODS.every((p) => x.starts[p] === d.starts[p]));
  if (same) same.spent = plus(same.spent, d.spent);
  else list.push({ starts: { ...d.starts }, spent: { ...d.spent } });
}

/** Is count `a` ahead of `b`: a later period, or the same one with more counted? */
function newer(a: PeriodSpend, b: PeriodSpend): boolean {
  const ta = Date.parse(a.periodStart), tb = Date.parse(b.periodStart);
  if (ta !== tb) return ta > tb;
  return a.requests > b.requests || a.tokens > b.tokens ||
    parseUSD(a.costUSD) > parseUSD(b.costUSD);
}

/**
 * The status count after adding `deltas`: added to the period it counts, or
 * starting a later period from them; spend of a period older than the one
 * counted is dropped (that period is over and its count is no longer read).
 */
export function addToCount(counted: NamespaceCount, deltas: PeriodDelta[]): NamespaceCount {
  const out: NamespaceCount = { ...counted };
  for (const period of BUDGET_PERIODS) {
    for (const d of [...deltas].sort((x, y) => x.starts[period] - y.starts[period])) {
      const start = d.starts[period];
      const cur = out[period];
      const curStart = cur ? Date.parse(cur.periodStart) : -Infinity;
      if (start < curStart) continue;
      const base = cur && start === curStart
        ? spentIn(cur, period, new Date(start))
        : { costNano: 0, tokens: 0, requests: 0 };
      out[period] = periodCount(new Date(start), plus(base, d.spent));
    }
  }
  return out;
}
