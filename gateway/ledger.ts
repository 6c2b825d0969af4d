// The budget ledger: per Task (by uid) what was spent (starting from the usage
// the apiserver already had, so a restart counts nothing twice) and what is in
// flight. A request reserves its worst case before it is forwarded; a stream
// updates its actual usage as it flows (crossing the cap cuts it); settling
// replaces the reservation with the actual usage.
import { formatUSD, parseUSD } from "./money.ts";
import { totalTokens } from "./prices.ts";
import type { Budget, TaskIdentity, Tokens, Usage } from "./types.ts";
import type { Held, NamespaceHold, NamespaceLedger } from "./namespace_ledger.ts";

export interface Amount {
  tokens: number;
  costNano: number;
}

export interface TaskEntry {
  namespace: string;
  task: string;
  taskUid: string;
  budget?: Budget;
  usage: Usage;
  /** The budget-exhausted message once the Task went over (or would have). */
  exceeded?: string;
  inFlight: Set<Reservation>;
}

export class Reservation {
  actual: Amount = { tokens: 0, costNano: 0 };
  private done = false;
  constructor(
    private readonly ledger: BudgetLedger,
    readonly entry: TaskEntry,
    readonly worst: Amount,
    /** The same worst case held against the namespace's budget, when it has one. */
    private readonly hold?: NamespaceHold,
  ) {}

  /** The stream's usage so far; true when the Task's (or its namespace's) actual spend is now
   *  over its budget. */
  update(actual: Amount): boolean {
    this.actual = actual;
    if (this.hold) this.hold.actual = actual;
    return this.ledger.overBudget(this.entry);
  }

  /** Replaces the reservation with the actual usage (also for failed or cut requests). */
  settle(tokens: Tokens, costNano: number, model: string | undefined): void {
    if (this.done) return;
    this.done = true;
    this.entry.inFlight.delete(this);
    const u = this.entry.usage;
    u.inputTokens += tokens.input;
    u.outputTokens += tokens.output;
    u.cacheReadTokens += tokens.cacheRead;
    u.cacheWriteTokens += tokens.cacheWrite;
    u.costNanoUSD += costNano;
    u.requests += 1;
    if (model) u.model = model;
    this.hold?.settle(amountOf(tokens, costNano));
    this.ledger.changed(this.entry);
  }
}

export type Reserved = { ok: true; reservation: Reservation } | { ok: false; message: string };

export function emptyUsage(): Usage {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costNanoUSD: 0,
    requests: 0,
  };
}

export function usageTokens(u: Usage): number {
  return u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
}

export class BudgetLedger {
  private tasks = new Map<string, TaskEntry>();

  /** onChange: a Task's usage changed, or at once (urgent) it went over its budget.
   *  namespaces: the budgets of namespaces (absent: Task budgets only). */
  constructor(
    private readonly onChange: (entry: TaskEntry, urgent: boolean) => void = () => {},
    private readonly namespaces?: NamespaceLedger,
  ) {}

  /** The Task's entry; the first sight starts it from identity.usageSoFar. */
  entry(identity: TaskIdentity): TaskEntry {
    let e = this.tasks.get(identity.taskUid);
    if (!e) {
      e = {
        namespace: identity.namespace,
        task: identity.task,
        taskUid: identity.taskUid,
        usage: { ...emptyUsage(), ...identity.usageSoFar },
        inFlight: new Set(),
      };
      this.tasks.set(identity.taskUid, e);
    }
    e.budget = identity.budget;
    return e;
  }

  get(taskUid: string): TaskEntry | undefined {
    return this.tasks.get(taskUid);
  }

  entries(): TaskEntry[] {
    return [...this.tasks.values()];
  }

  /** Drops a Task with nothing in flight (its Task is gone: its uid never comes back). */
  forget(taskUid: string): boolean {
    const e = this.tasks.get(taskUid);
    if (!e || e.inFlight.size > 0) return false;
    return this.tasks.delete(taskUid);
  }

  /** Reserves the request's worst case, or refuses (and marks the Task) when it does not fit. */
  reserve(identity: TaskIdentity, worst: Amount): Reserved {
    const e = this.entry(identity);
    if (e.exceeded) return { ok: false, message: e.exceeded };
    const limits = limitsOf(e.budget);
    let held: Amount = { tokens: usageTokens(e.usage), costNano: e.usage.costNanoUSD };
    for (const r of e.inFlight) held = add(held, maxAmount(r.worst, r.actual));
    const after = add(held, worst);
    if (
      limits.costNano !== undefined && after.costNano > limits.costNano ||
      limits.tokens !== undefined && after.tokens > limits.tokens
    ) {
      const message = exhaustedMessage(e, limits);
      this.mark(e, message);
      return { ok: false, message };
    }
    // Then the namespace's budget: the same worst case, against what its period has left.
    this.namespaces?.learn(identity.namespace, identity.namespaceBudget);
    const ns: Held = this.namespaces?.reserve(identity.namespace, worst) ?? { ok: true };
    if (!ns.ok) {
      this.mark(e, ns.message);
      return { ok: false, message: ns.message };
    }
    const reservation = new Reservation(this, e, worst, ns.hold);
    e.inFlight.add(reservation);
    return { ok: true, reservation };
  }

  /** Is the actual spend (settled plus what in-flight streams have used) over the Task's budget,
   *  or its namespace's? */
  overBudget(e: TaskEntry): boolean {
    return this.taskOver(e) || this.namespaces?.over(e.namespace) !== undefined;
  }

  private taskOver(e: TaskEntry): boolean {
    const limits = limitsOf(e.budget);
    let spent: Amount = { tokens: usageTokens(e.usage), costNano: e.usage.costNanoUSD };
    for (const r of e.inFlight) spent = add(spent, r.actual);
    return limits.costNano !== undefined && spent.costNano > limits.costNano ||
      limits.tokens !== undefined && spent.tokens > limits.tokens;
  }

  /** Marks the Task over its budget or its namespace's (a stream was cut, or a request refused). */
  mark(e: TaskEntry, message = this.overMessage(e)): void {
    if (e.exceeded) return;
    e.exceeded = message;
    this.onChange(e, true);
  }

  changed(e: TaskEntry): void {
    this.onChange(e, false);
  }

  /** What a Task over a budget is told: its own budget's message, else its namespace's. */
  private overMessage(e: TaskEntry): string {
    const limits = limitsOf(e.budget);
    if (this.taskOver(e)) return exhaustedMessage(e, limits);
    return this.namespaces?.over(e.namespace) ?? exhaustedMessage(e, limits);
  }
}

interface Limits {
  costNano?: number;
  tokens?: number;
}

function limitsOf(b: Budget | undefined): Limits {
  return {
    costNano: b?.costUSD === undefined ? undefined : parseUSD(b.costUSD),
    tokens: b?.tokens,
  };
}

function add(a: Amount, b: Amount): Amount {
  return { tokens: a.tokens + b.tokens, costNano: a.costNano + b.costNano };
}

function maxAmount(a: Amount, b: Amount): Amount {
  return { tokens: Math.max(a.tokens, b.tokens), costNano: Math.max(a.costNano, b.costNano) };
}

/** "KubeTask budget exhausted: Task t used $4.97 of $5.00" (or "... used N of M tokens"). */
export function exhaustedMessage(e: TaskEntry, limits: Limits): string {
  let spent: Amount = { tokens: usageTokens(e.usage), costNano: e.usage.costNanoUSD };
  for (const r of e.inFlight) spent = add(spent, r.actual);
  // With both limits, the one nearer to (or further past) its cap is the one to name.
  const costRatio = limits.costNano === undefined
    ? -1
    : spent.costNano / Math.max(1, limits.costNano);
  const tokenRatio = limits.tokens === undefined ? -1 : spent.tokens / Math.max(1, limits.tokens);
  const used = costRatio >= tokenRatio
    ? `$${formatUSD(spent.costNano)} of $${formatUSD(limits.costNano ?? 0)}`
    : `${spent.tokens} of ${limits.tokens} tokens`;
  return `KubeTask budget exhausted: Task ${e.task} used ${used}`;
}

export function amountOf(tokens: Tokens, costNano: number): Amount {
  return { tokens: totalTokens(tokens), costNano };
}
