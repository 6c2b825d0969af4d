import assert from "assert";
import { ItemExponentialBackoff } from "../../../controllers/runtime/ratelimit.ts";
import { parseRequestKey, requestKey, WorkQueue } from "../../../controllers/runtime/workqueue.ts";
import { FakeTimers } from "./fake_timers.ts";

/** Takes every key that is ready right now (get() resolves synchronously when one is queued). */
async function takeReady(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.len() > 0) keys.push((await q.get())!);
  return keys;
}

Deno.test("workqueue: a key added many times is handed out once", async () => {
  const q = new WorkQueue({ timers: new FakeTimers() });
  q.add("Task/ns/a");
  q.add("Task/ns/a");
  q.add("Task/ns/b");
  q.add("Task/ns/a");
  assert.deepEqual(await takeReady(q), ["Task/ns/a", "Task/ns/b"]);
  q.shutDown();
});

Deno.test("workqueue: a key added while in flight is handed out again only after done()", async () => {
  const q = new WorkQueue({ timers: new FakeTimers() });
  q.add("Task/ns/a");
  const key = await q.get();
  q.add("Task/ns/a");
  q.add("Task/ns/a");
  assert.equal(q.len(), 0, "must not be processed by a second worker concurrently");
  q.done(key!);
  assert.deepEqual(await takeReady(q), ["Task/ns/a"], "re-queued exactly once");
  q.done("Task/ns/a");
  assert.equal(q.len(), 0);
  q.shutDown();
});

Deno.test("workqueue: a blocked get() receives the next added key", async () => {
  const q = new WorkQueue({ timers: new FakeTimers() });
  const pending = q.get();
  q.add("Task/ns/a");
  assert.equal(await pending, "Task/ns/a");
  q.shutDown();
});

Deno.test("workqueue: addAfter releases keys earliest first and keeps the earliest time per key", async () => {
  const timers = new FakeTimers();
  const q = new WorkQueue({ timers });
  q.addAfter("k/ns/late", 300);
  q.addAfter("k/ns/early", 100);
  q.addAfter("k/ns/middle", 200);
  q.addAfter("k/ns/late", 500); // later than the pending 300: ignored
  q.addAfter("k/ns/middle", 50); // earlier: wins
  timers.advance(49);
  assert.equal(q.len(), 0);
  timers.advance(1);
  assert.deepEqual(await takeReady(q), ["k/ns/middle"]);
  timers.advance(1000);
  assert.deepEqual(await takeReady(q), ["k/ns/early", "k/ns/late"]);
  q.shutDown();
});

Deno.test("workqueue: a 30-day wait (past setTimeout's range) neither spins nor fires early", async () => {
  const timers = new FakeTimers();
  const q = new WorkQueue({ timers });
  const day = 24 * 3600 * 1000;
  q.addAfter("CronTask/ns/yearly", 30 * day);
  timers.advance(29 * day);
  assert.equal(q.len(), 0);
  assert.ok(timers.fired <= 2, `timer fired ${timers.fired} times while waiting`);
  timers.advance(day);
  assert.deepEqual(await takeReady(q), ["CronTask/ns/yearly"]);
  q.shutDown();
});

Deno.test("workqueue: addRateLimited backs off exponentially and forget() resets it", async () => {
  const timers = new FakeTimers();
  const q = new WorkQueue({ timers, limiter: new ItemExponentialBackoff(5, 1_000_000) });
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    q.addRateLimited("Task/ns/a");
    let waited = 0;
    while (q.len() === 0 && waited < 10_000) {
      timers.advance(1);
      waited++;
    }
    waits.push(waited);
    // Hand it out and finish it, as a failing worker would.
    q.done((await q.get())!);
  }
  assert.deepEqual(waits, [5, 10, 20, 40]);
  assert.equal(q.numRequeues("Task/ns/a"), 4);
  q.forget("Task/ns/a");
  assert.equal(q.numRequeues("Task/ns/a"), 0);
  q.shutDown();
});

Deno.test("workqueue: drain waits for in-flight keys; get() returns undefined after shutdown", async () => {
  const q = new WorkQueue({ timers: new FakeTimers() });
  q.add("Task/ns/a");
  q.add("Task/ns/b");
  const key = await q.get();
  let drained = false;
  const drain = q.drain().then(() => (drained = true));
  await Promise.resolve();
  assert.equal(drained, false, "in-flight key not done yet");
  assert.equal(await q.get(), undefined, "no new work after shutdown");
  q.add("Task/ns/c");
  assert.equal(q.len(), 0, "adds are ignored after shutdown");
  q.done(key!);
  await drain;
  assert.equal(drained, true);
});

Deno.test("workqueue: shutDown wakes workers blocked in get()", async () => {
  const q = new WorkQueue({ timers: new FakeTimers() });
  const waiting = [q.get(), q.get()];
  q.shutDown();
  assert.deepEqual(await Promise.all(waiting), [undefined, undefined]);
});

Deno.test("workqueue: request keys round-trip", () => {
  const req = { kind: "Task", namespace: "team-a", name: "fix-bug" };
  assert.equal(requestKey(req), "Task/team-a/fix-bug");
  assert.deepEqual(parseRequestKey(requestKey(req)), req);
});
