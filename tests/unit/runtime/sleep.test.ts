// sleepUnless: a wait that a stop cuts short, and one that was never needed.
import assert from "assert";
import { sleepUnless } from "../../../controllers/runtime/sleep.ts";

Deno.test("sleepUnless: an abort ends the wait at once, and no timer is left behind", async () => {
  const stop = new AbortController();
  let ended = false;
  const wait = sleepUnless(3_600_000, stop.signal).then(() => (ended = true));
  await Promise.resolve();
  assert.equal(ended, false, "still waiting");
  stop.abort();
  await wait;
  assert.equal(ended, true);
  // Deno's test sanitizer fails this test if the hour-long timer were still pending.
});

Deno.test("sleepUnless: an already aborted signal does not wait; otherwise the time passes", async () => {
  const stopped = new AbortController();
  stopped.abort();
  await sleepUnless(3_600_000, stopped.signal);
  let ended = false;
  await sleepUnless(5, new AbortController().signal).then(() => (ended = true));
  assert.equal(ended, true);
});
