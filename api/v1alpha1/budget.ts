// Spend limits and amounts of the model gateway: money as decimal strings
// (API conventions avoid floating-point numbers), tokens as integers.
import { z } from "zod";
import { celRules } from "./validation.ts";

// Kept as a string: CEL gets the same pattern.
const USD = "^[0-9]{1,9}([.][0-9]{1,6})?$";

/** A dollar amount such as "5" or "0.25" (at most 6 decimals). */
export function usdAmount(field: string) {
  const message = `${field} must be a dollar amount such as "5" or "0.25" (digits, at most 6 ` +
    "decimals, no sign or unit)";
  return z.string().min(1).max(16)
    .refine((v) => new RegExp(USD).test(v), { message })
    .meta(celRules({ rule: `self.matches('${USD}')`, message }));
}

export const budget = z.object({
  costUSD: usdAmount("budget.costUSD").optional().describe(
    'Most the Task may spend on model calls, in US dollars, e.g. "5" or "0.50", priced by ' +
      "its ModelProvider's price table.",
  ),
  tokens: z.int().min(1).max(1_000_000_000_000).optional().describe(
    "Most tokens (input, output and cache together) the Task's model calls may use.",
  ),
}).meta(celRules({
  rule: "has(self.costUSD) || has(self.tokens)",
  message: "a budget must set costUSD, tokens or both",
}));
export type Budget = z.infer<typeof budget>;
