// The Event recorder's writers: an Event queued at any moment is written,
// and flush() resolves once everything is.
import assert from "assert";
import { KubeEventRecorder } from "../../../controllers/runtime/events.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import type { KubeObject, KubeWriter } from "../../../controllers/runtime/types.ts";

function fakeWriter(created: string[]): KubeWriter {
  return {
    create: async <T extends KubeObject>(_type: unknown, obj: T) => {
      await Promise.resolve();
      created.push(String(obj.reason));
      return { ...obj, metadata: { name: `e${created.length}` } } as T;
    },
  } as unknown as KubeWriter;
}

const task = (name: string) => ({ metadata: { name, namespace: "ns", uid: `uid-${name}` } });

Deno.test("events: an Event queued while the last writer is finishing is still written", async () => {
  // Queue the second Event after 0..20 microtask turns: one of them lands
  // between a writer's last loop turn and its bookkeeping.
  for (let turns = 0; turns <= 20; turns++) {
    const created: string[] = [];
    const recorder = new KubeEventRecorder(fakeWriter(created), silentLogger);
    recorder.event(task("a"), "Normal", "First", "one");
    for (let i = 0; i < turns; i++) await Promise.resolve();
    recorder.event(task("b"), "Normal", "Second", "two");
    let flushed = false;
    const flushing = recorder.flush().then(() => (flushed = true));
    // The fake writer awaits only microtasks, so once they have all run (the
    // next macrotask) every writer has ended: flush() must have resolved by then.
    await new Promise((r) => setTimeout(r, 0));
    assert.ok(flushed, `flush() still pending after ${turns} turns`);
    await flushing;
    assert.deepEqual(created.sort(), ["First", "Second"], `after ${turns} turns`);
  }
});
