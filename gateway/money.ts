// Money as integer nano-dollars (1e-9 USD): decimal strings in, decimal strings
// out, never a float in between, so sums are exact and a budget check cannot
// be fooled by rounding.

const DECIMAL = /^(\d{1,12})(?:\.(\d{1,9}))?$/;

/** "3.00" -> 3_000_000_000. Throws on anything but a plain non-negative decimal (at most 9 places). */
export function parseUSD(text: string): number {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new Error(`not a decimal amount of USD: ${JSON.stringify(text)}`);
  return Number(m[1]) * 1e9 + Number((m[2] ?? "").padEnd(9, "0"));
}

/** Nano-dollars as a decimal string with at most 6 places, rounded UP (spend is never
 *  under-reported), at least 2 places: 4_970_000_000 -> "4.97", 1 -> "0.000001". */
export function formatUSD(nano: number): string {
  const micro = Math.ceil(Math.max(0, nano) / 1000);
  const whole = Math.floor(micro / 1e6);
  let frac = String(micro % 1e6).padStart(6, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${whole}.${frac}`;
}
