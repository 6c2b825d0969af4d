// The keyed mutex: one section at a time per key, keys independent, a failed
// section releases its key. Each section is held open by a promise the test
// resolves by hand, so the order is decided by the test, not by timers.
import assert from "assert";
import { KeyedMutex } from "../../../controllers/runtime/keyed_mutex.ts";

/** A section that records when it starts and finishes and ends when the test says so. */
function gate(tag: string, order: string[]) {
  let release!: () => void;
  let fail!: (err: Error) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const done = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  const section = async () => {
    order.push(`${tag}+`);
    markStarted();
    try {
      await done;
    } finally {
      order.push(`${tag}-`);
    }
  };
  return { section, started, release: () => release(), fail: (err: Error) => fail(err) };
}

/** Lets every already-settled continuation run (a section that could start, starts). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("keyed mutex: a second section of the same key waits for the first; another key does not", async () => {
  const mutex = new KeyedMutex();
  const order: string[] = [];
  const a1 = gate("a1", order);
  const a2 = gate("a2", order);
  const b1 = gate("b1", order);

  const runA1 = mutex.run("a", a1.section);
  const runA2 = mutex.run("a", a2.section);
  const runB1 = mutex.run("b", b1.section);
  await a1.started;
  await b1.started;
  await settle();
  assert.deepEqual(order, ["a1+", "b1+"], "a2 waits while a1 holds key a; b1 runs beside it");
  assert.equal(mutex.size, 2);

  b1.release();
  await runB1;
  await settle();
  assert.deepEqual(order, ["a1+", "b1+", "b1-"], "key b's end does not let a2 in");

  a1.release();
  await runA1;
  await a2.started;
  assert.deepEqual(order, ["a1+", "b1+", "b1-", "a1-", "a2+"]);
  a2.release();
  await runA2;
  assert.equal(mutex.size, 0, "the last one out leaves no entry behind");
});

Deno.test("keyed mutex: a failed section releases its key and its error reaches its caller only", async () => {
  const mutex = new KeyedMutex();
  const order: string[] = [];
  const first = gate("first", order);
  const next = gate("next", order);
  const runFirst = mutex.run("a", first.section);
  const runNext = mutex.run("a", next.section);
  await first.started;
  first.fail(new Error("boom"));
  await assert.rejects(runFirst, /boom/);
  await next.started;
  next.release();
  await runNext;
  assert.deepEqual(order, ["first+", "first-", "next+", "next-"]);
  assert.equal(await mutex.run("a", () => Promise.resolve(7)), 7);
  assert.equal(mutex.size, 0);
});
