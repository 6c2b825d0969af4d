// Work queue throughput, reported relative to a bare array used as a FIFO (the
// floor any queue pays), so the figure is a ratio and not machine-dependent.
import { WorkQueue } from "../../controllers/runtime/workqueue.ts";

const KEYS = 10_000;
const keys = Array.from({ length: KEYS }, (_, i) => `Task/ns-${i % 50}/task-${i}`);

Deno.bench("array FIFO: push/shift 10k keys", { group: "queue", baseline: true }, () => {
  const fifo: string[] = [];
  for (const k of keys) fifo.push(k);
  while (fifo.length) fifo.shift();
});

Deno.bench("WorkQueue: add/get/done 10k keys", { group: "queue" }, async () => {
  const q = new WorkQueue();
  for (const k of keys) q.add(k);
  for (let i = 0; i < KEYS; i++) q.done((await q.get())!);
  q.shutDown();
});

Deno.bench("WorkQueue: 10k adds of 100 hot keys (dedup)", { group: "dedup" }, async () => {
  const q = new WorkQueue();
  for (let i = 0; i < KEYS; i++) q.add(keys[i % 100]);
  while (q.len() > 0) q.done((await q.get())!);
  q.shutDown();
});
