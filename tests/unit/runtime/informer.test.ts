// The informer on a fake transport that answers list and watch requests from a
// script: a watch that ends in 410 Gone is followed at once by a re-list, and
// handlers see that re-list as the differences against the cache (adds,
// updates, deletes), only within the scope that re-listed.
import assert from "assert";
import { Informer, type InformerEventType } from "../../../controllers/runtime/informer.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import type { RawResponse, RequestOptions } from "../../../controllers/runtime/transport.ts";
import type { KubeObject, ResourceType } from "../../../controllers/runtime/types.ts";

const WIDGETS: ResourceType = {
  apiVersion: "example.test/v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
};

const widget = (namespace: string, name: string, rv: string, size = 1): KubeObject => ({
  metadata: { namespace, name, resourceVersion: rv, uid: `uid-${name}` },
  spec: { size },
});

const list = (rv: string, items: KubeObject[]): Answer => () => ({
  status: 200,
  text: () => Promise.resolve(JSON.stringify({ metadata: { resourceVersion: rv }, items })),
  stream: () => undefined,
});

/** A watch that streams `events`, one JSON line each, then ends. */
const watchThenEnd = (events: unknown[]): Answer => () => ({
  status: 200,
  text: () => Promise.resolve(""),
  stream: () =>
    new ReadableStream({
      start(controller) {
        for (const e of events) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify(e) + "\n"));
        }
        controller.close();
      },
    }),
});

/** A watch answered with 410 Gone (history compacted past its resourceVersion). */
const gone: Answer = () => ({
  status: 410,
  text: () => Promise.resolve(JSON.stringify({ kind: "Status", code: 410, reason: "Expired" })),
  stream: () => undefined,
});

/** A request that stays open until the informer aborts it (on stop()). */
const open: Answer = (opts) =>
  new Promise((_, reject) => {
    const signal = opts.signal!;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason));
  });

type Answer = (opts: RequestOptions) => RawResponse | Promise<RawResponse>;

/** Answers each namespace's requests from its script, in order; records them. */
class ScriptedTransport {
  readonly requests: { namespace: string; watch: boolean; resourceVersion?: string }[] = [];
  private waiters: { namespace: string; count: number; resolve: () => void }[] = [];

  constructor(private readonly scripts: Record<string, Answer[]>) {}

  send(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    assert.equal(method, "GET");
    const namespace = path.match(/\/namespaces\/([^/]+)\//)![1];
    const watch = opts.query?.watch === 1;
    this.requests.push({
      namespace,
      watch,
      ...(watch ? { resourceVersion: String(opts.query?.resourceVersion) } : {}),
    });
    for (const w of [...this.waiters]) {
      if (w.namespace === namespace && this.count(namespace) >= w.count) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    const answer = this.scripts[namespace].shift() ?? open;
    return Promise.resolve(answer(opts));
  }

  /** Resolves once `namespace` has had `count` requests. */
  requested(namespace: string, count: number): Promise<void> {
    if (this.count(namespace) >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ namespace, count, resolve }));
  }

  private count(namespace: string): number {
    return this.requests.filter((r) => r.namespace === namespace).length;
  }
}

for (
  const [how, ending] of [
    ["a 410 answer to the watch request", [gone]],
    ["an ERROR 410 event inside the watch", [watchThenEnd([{
      type: "ERROR",
      object: { kind: "Status", code: 410, message: "too old resource version" },
    }])]],
  ] as const
) {
  Deno.test(`informer: after ${how}, a re-list yields exactly the adds, updates and deletes it differs by`, async () => {
    const transport = new ScriptedTransport({
      x: [
        list("10", [
          widget("x", "kept", "1"),
          widget("x", "changed", "2"),
          widget("x", "gone", "3"),
        ]),
        watchThenEnd([{ type: "MODIFIED", object: widget("x", "kept", "11", 2) }]),
        ...ending,
        list("20", [
          widget("x", "kept", "11", 2),
          widget("x", "changed", "12", 5),
          widget("x", "new", "13"),
        ]),
        // then the watch from "20" stays open until stop()
      ],
      // Another scope of the same informer: its objects are not the re-list's to delete.
      y: [list("7", [widget("y", "elsewhere", "5")])],
    });
    const informer = new Informer({
      transport,
      type: WIDGETS,
      namespaces: ["x", "y"],
      log: silentLogger,
    });
    const seen: string[] = [];
    informer.on((type: InformerEventType, obj, old) => {
      const rv = (o?: KubeObject) => o?.metadata?.resourceVersion;
      seen.push(
        `${type} ${obj.metadata?.namespace}/${obj.metadata?.name}@${rv(obj)}` +
          (old ? ` (was @${rv(old)})` : ""),
      );
    });
    informer.start();
    try {
      await informer.synced;
      // x: list, watch (ends), watch (410), list, watch that stays open.
      await transport.requested("x", 5);
      await transport.requested("y", 2);
    } finally {
      await informer.stop();
    }

    const x = seen.filter((e) => e.includes(" x/"));
    assert.deepEqual(x.slice(0, 4), [
      "add x/kept@1",
      "add x/changed@2",
      "add x/gone@3",
      "update x/kept@11 (was @1)",
    ]);
    assert.deepEqual(x.slice(4).sort(), [
      "add x/new@13",
      "delete x/gone@3",
      "update x/changed@12 (was @2)",
    ], "the re-list: kept@11 is unchanged and not re-delivered");
    assert.deepEqual(seen.filter((e) => e.includes(" y/")), ["add y/elsewhere@5"]);
    assert.deepEqual(
      informer.list().map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`).sort(),
      ["x/changed", "x/kept", "x/new", "y/elsewhere"],
    );
    assert.equal(informer.get("x", "changed")?.spec?.size, 5);

    const xRequests = transport.requests.filter((r) => r.namespace === "x");
    const watches = xRequests.filter((r) => r.watch).map((r) => r.resourceVersion);
    assert.deepEqual(xRequests.map((r) => (r.watch ? "watch" : "list")), [
      "list",
      "watch",
      "watch",
      "list",
      "watch",
    ]);
    assert.deepEqual(
      watches,
      ["10", "11", "20"],
      [
        "the first watch from the list's resourceVersion",
        "a closed one again from the last event's",
        "after the re-list, from the new list's",
      ].join("; "),
    );
  });
}

Deno.test("informer: a cluster-scoped kind is listed once, not once per watched namespace", async () => {
  const paths: string[] = [];
  const transport = {
    send(_method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
      paths.push(`${opts.query?.watch === 1 ? "watch" : "list"} ${path}`);
      return Promise.resolve((opts.query?.watch === 1 ? open : list("1", []))(opts));
    },
  };
  const informer = new Informer({
    transport,
    type: { ...WIDGETS, namespaced: false },
    namespaces: ["x", "y"],
    log: silentLogger,
  });
  informer.start();
  try {
    await informer.synced;
  } finally {
    await informer.stop();
  }
  assert.deepEqual(paths.filter((p) => p.startsWith("list")), [
    "list /apis/example.test/v1/widgets",
  ]);
});
