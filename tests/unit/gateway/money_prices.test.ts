// Money in integer nano-dollars, price lookup and cost.
import assert from "assert";
import { formatUSD, parseUSD } from "../../../gateway/money.ts";
import { costNano, findPrice, ratesOf } from "../../../gateway/prices.ts";

Deno.test("money: decimal strings parse exactly to nano-dollars", () => {
  assert.equal(parseUSD("3.00"), 3_000_000_000);
  assert.equal(parseUSD("0.000000001"), 1);
  assert.equal(parseUSD("12"), 12_000_000_000);
  assert.equal(parseUSD("0.1") + parseUSD("0.2"), parseUSD("0.3"));
  for (const bad of ["", "-1", "1e3", "0.0000000001", "1.2.3", "NaN", " $5"]) {
    assert.throws(() => parseUSD(bad), /not a decimal/, bad);
  }
});

Deno.test("money: formatting keeps at most 6 places and rounds up, never under-reporting", () => {
  assert.equal(formatUSD(4_970_000_000), "4.97");
  assert.equal(formatUSD(5_000_000_000), "5.00");
  assert.equal(formatUSD(0), "0.00");
  assert.equal(formatUSD(1), "0.000001");
  assert.equal(formatUSD(1_000), "0.000001");
  assert.equal(formatUSD(1_001), "0.000002");
  assert.equal(formatUSD(123_456_789_012), "123.45679");
});

Deno.test("prices: exact name first, then the longest prefix", () => {
  const prices = [
    { model: "claude-*", inputPerMTok: "1", outputPerMTok: "1" },
    { model: "claude-opus-*", inputPerMTok: "2", outputPerMTok: "2" },
    { model: "claude-opus-4", inputPerMTok: "3", outputPerMTok: "3" },
  ];
  assert.equal(findPrice(prices, "claude-opus-4")?.inputPerMTok, "3");
  assert.equal(findPrice(prices, "claude-opus-4-1")?.inputPerMTok, "2");
  assert.equal(findPrice(prices, "claude-haiku")?.inputPerMTok, "1");
  assert.equal(findPrice(prices, "gpt-5"), undefined);
  assert.equal(findPrice(prices, undefined), undefined);
});

Deno.test("prices: cost per kind of token, rounded up; cache without a price costs the input price", () => {
  const rates = ratesOf({
    model: "m",
    inputPerMTok: "3.00",
    outputPerMTok: "15.00",
    cacheReadPerMTok: "0.30",
  });
  assert.deepEqual(rates, {
    input: 3e9,
    output: 15e9,
    cacheRead: 3e8,
    cacheWrite: 3e9,
  });
  // 1M input = $3, 1M output = $15, 1M cache reads = $0.30, 1M cache writes = $3.
  const M = 1_000_000;
  assert.equal(costNano({ input: M, output: M, cacheRead: M, cacheWrite: M }, rates), 21.3e9);
  // One input token costs 3000 nano-dollars; one cache read 300.
  assert.equal(costNano({ input: 1, output: 0, cacheRead: 1, cacheWrite: 0 }, rates), 3300);
  // A fraction of a nano-dollar is rounded up.
  const cheap = ratesOf({ model: "m", inputPerMTok: "0.000001", outputPerMTok: "0" });
  assert.equal(costNano({ input: 1, output: 0, cacheRead: 0, cacheWrite: 0 }, cheap), 1);
  // Large counts stay exact (no float overflow of tokens x rate).
  const big = costNano(
    { input: 4e9, output: 0, cacheRead: 0, cacheWrite: 0 },
    ratesOf({ model: "m", inputPerMTok: "999.999999999", outputPerMTok: "0" }),
  );
  assert.equal(big, 3_999_999_999_996_000);
  assert.equal(
    costNano({ input: 5, output: 5, cacheRead: 0, cacheWrite: 0 }, ratesOf(undefined)),
    0,
  );
});
