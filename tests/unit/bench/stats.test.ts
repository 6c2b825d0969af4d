import assert from "assert";
import { cpuDelta, cpuSeconds, latencies, percentile } from "../../bench/e2e/stats.ts";

Deno.test("bench stats: nearest-rank percentiles", () => {
  const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]; // 1..10, unsorted
  assert.equal(percentile(values, 50), 5);
  assert.equal(percentile(values, 99), 10);
  assert.equal(percentile(values, 90), 9);
  assert.equal(percentile(values, 10), 1);
  assert.equal(percentile(values, 100), 10);
  assert.equal(percentile([42], 1), 42);
  assert.deepEqual(values, [5, 1, 4, 2, 3, 10, 9, 8, 7, 6], "the input is not sorted in place");
  // p99 of 1,000 values is the 990th smallest, not the largest.
  const thousand = Array.from({ length: 1000 }, (_, i) => 1000 - i);
  assert.equal(percentile(thousand, 99), 990);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(values, 0), RangeError);
  assert.throws(() => percentile(values, 101), RangeError);
});

Deno.test("bench stats: latencies pair starts and ends by key, skipping the unmatched", () => {
  const starts = new Map([["a", 100], ["b", 200], ["c", 300]]);
  const ends = new Map([["a", 150], ["c", 310], ["d", 999]]);
  assert.deepEqual(latencies(starts, ends), [50, 10]);
});

Deno.test("bench stats: CPU seconds of a process, and their differences by name", () => {
  const own = cpuSeconds(Deno.pid);
  assert.ok(own > 0, `this process has used CPU: ${own}`);
  assert.ok(Number.isNaN(cpuSeconds(-1)), "no such process");
  assert.deepEqual(cpuDelta({ a: 1.04, b: 2 }, { a: 3.5, b: 2, c: 0.25 }), {
    a: 2.5,
    b: 0,
    c: 0.3,
  });
});
