// List pages follow the size of what is listed: a page of large objects is
// held whole before the cache trims it, so its count shrinks to fit.
import assert from "assert";
import {
  Informer,
  LIST_PAGE_BYTES,
  LIST_PAGE_FIRST,
  LIST_PAGE_MAX,
  nextPageLimit,
} from "../../../controllers/runtime/informer.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ContextResource } from "../../../controllers/kinds.ts";
import type { ApiTransport, RawResponse } from "../../../controllers/runtime/transport.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";

Deno.test("informer paging: the next limit fits the last page's average object in the budget", () => {
  const kib = 1024;
  // 256 KiB objects: 16 fit in 4 MiB.
  assert.equal(nextPageLimit(LIST_PAGE_FIRST, 50, 50 * 256 * kib), 16);
  // Small objects: as many as allowed.
  assert.equal(nextPageLimit(LIST_PAGE_FIRST, 50, 50 * kib), LIST_PAGE_MAX);
  // One object larger than the whole budget: still one at a time.
  assert.equal(nextPageLimit(16, 1, 2 * LIST_PAGE_BYTES), 1);
  // An empty page says nothing about sizes.
  assert.equal(nextPageLimit(16, 0, 2), 16);
});

/** A transport serving `objects` in pages of the requested limit, then an idle watch. */
function fakeTransport(objects: KubeObject[]) {
  const limits: number[] = [];
  const send = (_method: string, _path: string, opts: { query?: Record<string, unknown> } = {}) => {
    const q = opts.query ?? {};
    if (q.watch) {
      const stream = new ReadableStream<Uint8Array>({}); // never ends until cancelled
      return Promise.resolve<RawResponse>({
        status: 200,
        text: () => Promise.resolve(""),
        stream: () => stream,
      });
    }
    const start = Number(q.continue ?? 0);
    const limit = Number(q.limit);
    limits.push(limit);
    const items = objects.slice(start, start + limit);
    const next = start + limit < objects.length ? String(start + limit) : undefined;
    const body = JSON.stringify({ metadata: { resourceVersion: "9", continue: next }, items });
    return Promise.resolve<RawResponse>({
      status: 200,
      text: () => Promise.resolve(body),
      stream: () => undefined,
    });
  };
  return { transport: { send } as unknown as ApiTransport, limits };
}

Deno.test("informer paging: large objects are listed a few at a time, small ones in large pages", async () => {
  const make = (n: number, size: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({
      metadata: { namespace: "ns", name: `c-${from + i}`, resourceVersion: "1" },
      spec: { type: "Inline", inline: { content: "x".repeat(size) } },
    }));
  const large = fakeTransport(make(120, 256 * 1024));
  const small = fakeTransport(make(2500, 100));
  for (
    const { transport, limits, expected, count } of [
      { ...large, expected: [LIST_PAGE_FIRST, 15, 15, 15, 15, 15], count: 120 },
      {
        ...small,
        expected: [LIST_PAGE_FIRST, LIST_PAGE_MAX, LIST_PAGE_MAX, LIST_PAGE_MAX],
        count: 2500,
      },
    ]
  ) {
    const informer = new Informer({ transport, type: ContextResource, log: silentLogger });
    informer.start();
    await informer.synced;
    assert.equal(informer.size(), count);
    assert.deepEqual(limits, expected);
    await informer.stop();
  }
});
