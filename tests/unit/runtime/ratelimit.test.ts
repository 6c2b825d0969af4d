import assert from "assert";
import {
  DefaultControllerRateLimiter,
  ItemExponentialBackoff,
  TokenBucket,
} from "../../../controllers/runtime/ratelimit.ts";
import { FakeTimers } from "./fake_timers.ts";

Deno.test("backoff: doubles from 5 ms per item up to the 1000 s cap", () => {
  const b = new ItemExponentialBackoff();
  const delays = Array.from({ length: 5 }, () => b.when("a"));
  assert.deepEqual(delays, [5, 10, 20, 40, 80]);
  assert.equal(b.when("other"), 5, "items back off independently");
  for (let i = 0; i < 100; i++) b.when("a");
  assert.equal(b.when("a"), 1_000_000);
});

Deno.test("backoff: forget resets an item to the base delay", () => {
  const b = new ItemExponentialBackoff();
  b.when("a");
  b.when("a");
  b.forget("a");
  assert.equal(b.retries("a"), 0);
  assert.equal(b.when("a"), 5);
});

Deno.test("token bucket: a burst passes at once, then callers wait 1/qps each", () => {
  const clock = new FakeTimers();
  const bucket = new TokenBucket(10, 3, clock);
  assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 0]);
  assert.equal(Math.round(bucket.reserve()), 100);
  assert.equal(Math.round(bucket.reserve()), 200);
  clock.advance(1000); // refills, but never above the burst
  assert.deepEqual([bucket.reserve(), bucket.reserve()], [0, 0]);
});

Deno.test("default limiter: the slower of item backoff and the overall bucket", () => {
  const clock = new FakeTimers();
  const limiter = new DefaultControllerRateLimiter({ qps: 1, burst: 2, clock });
  assert.equal(limiter.when("a"), 5); // bucket has tokens: backoff decides
  assert.equal(limiter.when("b"), 5);
  assert.equal(Math.round(limiter.when("c")), 1000); // bucket empty: it decides
  limiter.forget("a");
  assert.equal(limiter.retries("a"), 0);
});
