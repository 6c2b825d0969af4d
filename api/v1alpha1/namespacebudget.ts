// NamespaceBudget: what one namespace may spend on model calls through the
// gateway per UTC day and per UTC month. Cluster-scoped and named after the
// namespace it limits, so only who may write cluster-scoped objects (the
// platform) sets it: a tenant's RoleBinding, whatever it grants, reaches no
// cluster-scoped object, and none of our user roles names this kind. Its
// status is the durable spend counter, written by the gateway alone (status
// subresource, resourceVersion precondition), so a gateway restart loses
// nothing and no database is needed.
import { z } from "zod";
import { objectMeta } from "./common.ts";
import { usdAmount } from "./budget.ts";
import { celRules } from "./validation.ts";

export const BUDGET_PERIODS = ["daily", "monthly"] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

export const periodLimit = z.object({
  costUSD: usdAmount("costUSD").optional().describe(
    'Most the namespace may spend in the period, in US dollars, e.g. "20" or "0.50", priced ' +
      "by each ModelProvider's price table.",
  ),
  tokens: z.int().min(1).max(1_000_000_000_000).optional().describe(
    "Most tokens (input, output and cache together) the namespace may use in the period.",
  ),
}).meta(celRules({
  rule: "has(self.costUSD) || has(self.tokens)",
  message: "a period's limit must set costUSD, tokens or both",
}));
export type PeriodLimit = z.infer<typeof periodLimit>;

export const namespaceBudgetSpec = z.object({
  daily: periodLimit.optional().describe(
    "The limit per UTC day (resets at 00:00 UTC).",
  ),
  monthly: periodLimit.optional().describe(
    "The limit per UTC calendar month (resets at 00:00 UTC on the 1st).",
  ),
}).meta(celRules({
  rule: "has(self.daily) || has(self.monthly)",
  message: "a NamespaceBudget must set daily, monthly or both",
}));
export type NamespaceBudgetSpec = z.infer<typeof namespaceBudgetSpec>;

// Spend is summed exactly (nano-dollars): 9 decimals, never rounded between writes.
const SPENT_USD = "^[0-9]{1,12}([.][0-9]{1,9})?$";

export const periodSpend = z.object({
  periodStart: z.string().describe(
    "Start of the period counted here (RFC 3339, UTC). A count of an earlier period than the " +
      "current one means nothing was spent in the current one yet.",
  ),
  costUSD: z.string().max(24).refine((v) => new RegExp(SPENT_USD).test(v), {
    message: "costUSD must be a decimal amount with at most 9 decimals",
  }).describe("US dollars spent in the period (exact, up to 9 decimals)."),
  tokens: z.int().min(0).describe("Tokens used in the period (input, output and cache)."),
  requests: z.int().min(0).describe("Model calls counted in the period."),
});
export type PeriodSpend = z.infer<typeof periodSpend>;

export const namespaceBudgetStatus = z.object({
  daily: periodSpend.optional().describe("Spend of the current (or last counted) UTC day."),
  monthly: periodSpend.optional().describe("Spend of the current (or last counted) UTC month."),
  updateTime: z.string().optional().describe("When the gateway last added to these figures."),
});
export type NamespaceBudgetStatus = z.infer<typeof namespaceBudgetStatus>;

export const namespaceBudget = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: namespaceBudgetSpec,
  status: namespaceBudgetStatus.optional(),
});
export type NamespaceBudget = z.infer<typeof namespaceBudget>;
