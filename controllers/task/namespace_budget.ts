// A namespace's budget per UTC day and month (NamespaceBudget, named after the
// namespace): the periods' arithmetic, what the status counted in the current
// period, and the gate the operator applies before a Task's Job: while any
// period's spend has reached its limit, a new Task that would call models
// through the gateway stays Queued (BudgetExhausted) until that period resets.
// The gateway reads the same figures to refuse the call that would pass them.
import {
  BUDGET_PERIODS,
  type BudgetPeriod,
  type NamespaceBudget,
  namespaceBudget as namespaceBudgetSchema,
  type PeriodLimit,
  type PeriodSpend,
} from "../../api/v1alpha1/index.ts";
import { formatUSD, parseUSD } from "../../gateway/money.ts";
import { rfc3339 } from "../runtime/conditions.ts";
import type { KubeObject } from "../runtime/types.ts";

/** 00:00 UTC of the day, or of the 1st of the month, that `now` is in. */
export function periodStart(period: BudgetPeriod, now: Date): Date {
  const y = now.getUTCFullYear(), m = now.getUTCMonth();
  return period === "daily"
    ? new Date(Date.UTC(y, m, now.getUTCDate()))
    : new Date(Date.UTC(y, m, 1));
}

/** When the period `now` is in ends: the next 00:00 UTC, or the 1st of the next month. */
export function periodReset(period: BudgetPeriod, now: Date): Date {
  const y = now.getUTCFullYear(), m = now.getUTCMonth();
  // Date.UTC carries day 32 and month 12 over into the next month and year.
  return period === "daily"
    ? new Date(Date.UTC(y, m, now.getUTCDate() + 1))
    : new Date(Date.UTC(y, m + 1, 1));
}

export interface Spent {
  costNano: number;
  tokens: number;
  requests: number;
}

export const NOTHING_SPENT: Spent = { costNano: 0, tokens: 0, requests: 0 };

/** What a status count says was spent in the period `now` is in (nothing, if it counts another). */
export function spentIn(count: PeriodSpend | undefined, period: BudgetPeriod, now: Date): Spent {
  if (!count || Date.parse(count.periodStart) !== periodStart(period, now).getTime()) {
    return NOTHING_SPENT;
  }
  let costNano = 0;
  try {
    costNano = parseUSD(count.costUSD);
  } catch {
    costNano = 0; // the schema refuses it; a CRD without its rules must not stop the gateway
  }
  return { costNano, tokens: count.tokens, requests: count.requests };
}

/** A status count of `spent` in the period starting at `start`. */
export function periodCount(start: Date, spent: Spent): PeriodSpend {
  return {
    periodStart: rfc3339(start),
    costUSD: formatNanoUSD(spent.costNano),
    tokens: spent.tokens,
    requests: spent.requests,
  };
}

/** Nano-dollars exactly, as a decimal with at most 9 places ("1.5", "0.000000001"). */
export function formatNanoUSD(nano: number): string {
  const n = Math.max(0, Math.round(nano));
  const whole = Math.floor(n / 1e9);
  const frac = String(n % 1e9).padStart(9, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

const PERIOD_WORDS: Record<BudgetPeriod, { adjective: string; now: string }> = {
  daily: { adjective: "daily", now: "today" },
  monthly: { adjective: "monthly", now: "this month" },
};

/** "$4.97 of $5.00" or "1200 of 1000 tokens", whichever limit is nearer to (or past) its cap. */
export function usedOf(spent: Spent, limit: PeriodLimit): string {
  const costNano = limit.costUSD === undefined ? undefined : parseUSD(limit.costUSD);
  const costRatio = costNano === undefined ? -1 : spent.costNano / Math.max(1, costNano);
  const tokenRatio = limit.tokens === undefined ? -1 : spent.tokens / Math.max(1, limit.tokens);
  return costRatio >= tokenRatio
    ? `$${formatUSD(spent.costNano)} of $${formatUSD(costNano ?? 0)}`
    : `${spent.tokens} of ${limit.tokens} tokens`;
}

/** Has `spent` reached the limit (nothing more can be spent)? */
export function reached(spent: Spent, limit: PeriodLimit): boolean {
  return limit.costUSD !== undefined && spent.costNano >= parseUSD(limit.costUSD) ||
    limit.tokens !== undefined && spent.tokens >= limit.tokens;
}

export interface Exhausted {
  period: BudgetPeriod;
  /** When every exhausted period has reset (the latest of their resets). */
  resetAt: Date;
  message: string;
}

/** The NamespaceBudget parsed, or undefined (absent, or invalid: then it limits nothing). */
export function parseNamespaceBudget(raw: KubeObject | undefined): NamespaceBudget | undefined {
  if (!raw) return undefined;
  const parsed = namespaceBudgetSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Why the namespace may start no Task that calls models now: a period whose
 * spend has reached its limit. Undefined while every period has something left.
 */
export function namespaceExhausted(
  budget: NamespaceBudget | undefined,
  now: Date,
): Exhausted | undefined {
  if (!budget) return undefined;
  const namespace = budget.metadata.name ?? "";
  const over = BUDGET_PERIODS.flatMap((period) => {
    const limit = budget.spec[period];
    if (!limit) return [];
    const spent = spentIn(budget.status?.[period], period, now);
    return reached(spent, limit) ? [{ period, limit, spent }] : [];
  });
  if (over.length === 0) return undefined;
  const resetAt = new Date(Math.max(...over.map((o) => periodReset(o.period, now).getTime())));
  const used = over.map((o) =>
    `${usedOf(o.spent, o.limit)} ${PERIOD_WORDS[o.period].now} (${o.period} budget)`
  ).join(" and ");
  return {
    period: over[0].period,
    resetAt,
    message: `namespace "${namespace}" used ${used} of NamespaceBudget "${namespace}": this ` +
      `Task starts when it resets at ${rfc3339(resetAt)}`,
  };
}

/** The words of a period for the gateway's refusal: "today", "this month". */
export function periodNow(period: BudgetPeriod): string {
  return PERIOD_WORDS[period].now;
}
