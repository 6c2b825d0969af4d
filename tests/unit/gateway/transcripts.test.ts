// The transcript store: gzip members appended per exchange, read back in
// order, a torn last member dropped, the size cap, the sweep, and paths that
// cannot leave the directory.
import assert from "assert";
import { gunzipSync } from "node:zlib";
import {
  transcriptPath,
  type TranscriptRecord,
  TranscriptStore,
} from "../../../gateway/transcripts.ts";
import { renderTranscriptText } from "../../../gateway/transcript_render.ts";

const UID = "0b4b6f7e-1111-4c2b-9a8e-5f1d2c3b4a59";

function record(i: number, extra: Partial<TranscriptRecord> = {}): TranscriptRecord {
  return {
    time: `2026-12-06T12:00:0${i}.000Z`,
    durationMs: 1200,
    method: "POST",
    path: "/p/prov/v1/messages",
    protocol: "anthropic-messages",
    model: "claude-test",
    status: 200,
    request: { messages: [{ role: "user", content: `question ${i}` }] },
    response: { content: [{ type: "text", text: `answer ${i}` }] },
    usage: {
      inputTokens: 10,
      outputTokens: 2,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUSD: "0.000060",
    },
    ...extra,
  };
}

async function withStore(
  opts: { maxBytesPerTask?: number; retentionMs?: number },
  fn: (store: TranscriptStore, dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "transcripts-" });
  try {
    await fn(new TranscriptStore({ dir, ...opts }), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("transcripts: one gzip member per exchange, read back in order, one valid gzip file", async () => {
  await withStore({}, async (store, dir) => {
    await Promise.all([0, 1, 2].map((i) => store.append("team-a", UID, record(i))));
    const records = await store.read("team-a", UID);
    assert.deepEqual(records.map((r) => r.request), [0, 1, 2].map((i) => record(i).request));
    const file = await Deno.readFile(`${dir}/team-a/${UID}.jsonl.gz`);
    const lines = new TextDecoder().decode(gunzipSync(file)).trim().split("\n");
    assert.equal(lines.length, 3);
    assert.deepEqual(await store.read("team-a", "no-such-uid"), []);
    assert.equal(((await Deno.stat(`${dir}/team-a/${UID}.jsonl.gz`)).mode ?? 0) & 0o077, 0);
  });
});

Deno.test("transcripts: a member torn by a crash is dropped, the records before it kept", async () => {
  await withStore({}, async (store, dir) => {
    await store.append("team-a", UID, record(0));
    await store.append("team-a", UID, record(1));
    const path = `${dir}/team-a/${UID}.jsonl.gz`;
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 10));
    const records = await store.read("team-a", UID);
    assert.deepEqual(records.map((r) => r.time), [record(0).time]);
  });
});

Deno.test("transcripts: past the per-Task cap, records become truncated stubs", async () => {
  await withStore({ maxBytesPerTask: 400 }, async (store) => {
    const big = "x".repeat(5000).split("").map((_, i) => String.fromCharCode(33 + (i * 7919) % 90))
      .join("");
    await store.append("team-a", UID, record(0));
    await store.append("team-a", UID, record(1, { request: { big } }));
    const [first, second] = await store.read("team-a", UID);
    assert.equal(first.truncated, undefined);
    assert.equal(second.truncated, true);
    assert.equal(second.request, undefined);
    assert.equal(second.usage?.inputTokens, 10, "the stub keeps the usage");
    assert.match(renderTranscriptText([first, second]), /#2 .*TRUNCATED/);
  });
});

Deno.test("transcripts: the sweep deletes files of deleted Tasks and files past the retention", async () => {
  await withStore({ retentionMs: 3600_000 }, async (store, dir) => {
    const live = "11111111-aaaa", gone = "22222222-bbbb", old = "33333333-cccc";
    for (const uid of [live, gone, old]) await store.append("team-a", uid, record(0));
    const past = new Date(Date.now() - 2 * 3600_000);
    await Deno.utime(`${dir}/team-a/${old}.jsonl.gz`, past, past);
    await Deno.writeTextFile(`${dir}/team-a/notes.txt`, "not a transcript");
    const removed = await store.sweep((_ns, uid) => Promise.resolve(uid !== gone));
    assert.equal(removed, 2);
    const left = (await Array.fromAsync(Deno.readDir(`${dir}/team-a`))).map((e) => e.name).sort();
    assert.deepEqual(left, [`${live}.jsonl.gz`, "notes.txt"]);
  });
});

Deno.test("transcripts: a namespace or uid that would leave the directory is refused (attack replay)", async () => {
  for (
    const [ns, uid] of [["..", UID], ["team-a", "../../etc/passwd"], ["a/b", UID], ["team-a", ""]]
  ) {
    assert.throws(() => transcriptPath("/d", ns, uid), /invalid/);
  }
  await withStore({}, async (store, dir) => {
    await store.append("../escape", UID, record(0)); // logged, not written, never throws
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("transcripts: the text rendering shows time, model, status, tokens, user, assistant, tools", () => {
  const text = renderTranscriptText([
    record(0, {
      request: { messages: [{ role: "user", content: [{ type: "tool_result", content: "ok" }] }] },
      response: {
        stream: true,
        events: [
          { type: "content_block_start", index: 0, content_block: { type: "text" } },
          { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Fixing" } },
          {
            type: "content_block_start",
            index: 1,
            content_block: { type: "tool_use", name: "Bash" },
          },
          {
            type: "content_block_delta",
            index: 1,
            delta: { type: "input_json_delta", partial_json: '{"command":"ls"}' },
          },
        ],
        text: "Fixing",
      },
    }),
    record(1, { status: 429, response: { error: { type: "rate_limit_error" } }, incomplete: true }),
  ]);
  assert.equal(
    text,
    [
      "#1 2026-12-06T12:00:00.000Z  claude-test  HTTP 200  1.20s  in 10 out 2 cache-read 0 cache-write 0 $0.000060",
      "user:",
      "  [tool result] ok",
      "assistant:",
      "  Fixing",
      'tool call Bash: {"command":"ls"}',
      "",
      "#2 2026-12-06T12:00:01.000Z  claude-test  HTTP 429  1.20s  in 10 out 2 cache-read 0 cache-write 0 $0.000060  INCOMPLETE",
      "user:",
      "  question 1",
      'error: {"error":{"type":"rate_limit_error"}}',
      "",
    ].join("\n"),
  );
  assert.equal(renderTranscriptText([]), "(no exchanges recorded)\n");
});

Deno.test("transcripts: a begun note is read back only while no record of its exchange's end follows", async () => {
  await withStore({}, async (store) => {
    const begun = (id: string): TranscriptRecord => ({
      time: record(0).time,
      durationMs: 0,
      method: "POST",
      path: "/p/prov/v1/messages",
      status: 0,
      exchange: id,
      begun: true,
    });
    await store.append("team-a", UID, begun("a"));
    await store.append("team-a", UID, begun("b"));
    await store.append("team-a", UID, record(1, { exchange: "a" }));
    const records = await store.read("team-a", UID);
    assert.deepEqual(records.map((r) => [r.exchange, r.status, r.incomplete, !!r.unfinished]), [
      ["b", 0, true, true],
      ["a", 200, undefined, false],
    ]);
    assert.equal(records[0].begun, undefined);
  });
});
