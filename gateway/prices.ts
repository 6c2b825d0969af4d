// The price of a model from a provider's table and the cost of a response in
// integer nano-dollars.
import { parseUSD } from "./money.ts";
import type { Price, Tokens } from "./types.ts";

/** Nano-dollars per million tokens, per kind of token. */
export interface PriceRates {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** The most specific entry for a model: the exact name, else the longest matching "prefix*". */
export function findPrice(prices: readonly Price[], model: string | undefined): Price | undefined {
  if (model === undefined) return undefined;
  const exact = prices.find((p) => p.model === model);
  if (exact) return exact;
  let best: Price | undefined;
  for (const p of prices) {
    if (!p.model.endsWith("*")) continue;
    const prefix = p.model.slice(0, -1);
    if (model.startsWith(prefix) && (!best || prefix.length > best.model.length - 1)) best = p;
  }
  return best;
}

/** Rates of a price entry; cache tokens without their own price cost the input price
 *  (charging more rather than less when the table is incomplete). */
export function ratesOf(price: Price | undefined): PriceRates {
  if (!price) return { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  const input = parseUSD(price.inputPerMTok);
  return {
    input,
    output: parseUSD(price.outputPerMTok),
    cacheRead: price.cacheReadPerMTok === undefined ? input : parseUSD(price.cacheReadPerMTok),
    cacheWrite: price.cacheWritePerMTok === undefined ? input : parseUSD(price.cacheWritePerMTok),
  };
}

/** The cost of these tokens in nano-dollars, rounded up. */
export function costNano(tokens: Tokens, rates: PriceRates): number {
  const sum = BigInt(tokens.input) * BigInt(rates.input) +
    BigInt(tokens.output) * BigInt(rates.output) +
    BigInt(tokens.cacheRead) * BigInt(rates.cacheRead) +
    BigInt(tokens.cacheWrite) * BigInt(rates.cacheWrite);
  const million = 1_000_000n;
  return Number((sum + million - 1n) / million);
}

export function totalTokens(t: Tokens): number {
  return t.input + t.output + t.cacheRead + t.cacheWrite;
}

export const NO_TOKENS: Tokens = Object.freeze({
  input: 0,
  output: 0,
  cacheRead: 0,
  cacheWrite: 0,
});
