// What the Task and Context caches keep of large text, and how it is read back.
import assert from "assert";
import { MAX_TEXT_LENGTH, type Task } from "../../../api/v1alpha1/index.ts";
import { ContextResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject, LiveReader } from "../../../controllers/runtime/types.ts";
import {
  contextForCache,
  fullContext,
  LARGE_TEXT_LENGTH,
  omittedText,
  taskForCache,
  withDescription,
} from "../../../controllers/task/large_text.ts";

const text = (n: number) => "x".repeat(n);

const task = (description?: string): KubeObject => ({
  metadata: { namespace: "team", name: "fix", resourceVersion: "7" },
  spec: { description, agentRef: "a", contexts: [{ name: "guide" }] },
  status: { phase: "Queued" },
});

const inline = (content: string): KubeObject => ({
  metadata: { namespace: "team", name: "guide" },
  spec: { type: "Inline", inline: { content } },
});

/** A LiveReader over a few objects, counting its reads. */
function liveOf(objects: Record<string, KubeObject>) {
  const reads: string[] = [];
  const live: LiveReader = {
    get: <T extends KubeObject>(type: { plural: string }, ns: string, name: string) => {
      reads.push(`${type.plural}/${ns}/${name}`);
      return Promise.resolve(objects[`${type.plural}/${ns}/${name}`] as T | undefined);
    },
    list: () => Promise.resolve([]),
  };
  return { live, reads };
}

Deno.test("large text: a long description is left out of the cached Task, with its length", () => {
  const long = text(LARGE_TEXT_LENGTH + 1);
  const original = task(long);
  const cached = taskForCache(original);
  assert.equal(cached.spec.description, undefined);
  assert.deepEqual(omittedText(cached), { field: "spec.description", length: long.length });
  // Everything else is kept, and the object as listed is not changed.
  assert.deepEqual(cached.spec.contexts, [{ name: "guide" }]);
  assert.equal(cached.spec.agentRef, "a");
  assert.deepEqual(cached.status, { phase: "Queued" });
  assert.equal(cached.metadata?.resourceVersion, "7");
  assert.equal(original.spec.description, long);
  // The mark never leaves the process: a status write serializes the observed object.
  assert.equal(JSON.stringify(cached).includes("omitted"), false);
  assert.deepEqual(JSON.parse(JSON.stringify({ ...cached })).spec, {
    agentRef: "a",
    contexts: [{ name: "guide" }],
  });
  // A spread copy (the apply layer's { ...object, status }) still says what is missing.
  assert.ok(omittedText({ ...cached }));
});

Deno.test("large text: short text, no text and text beyond the API's limit stay in the cache", () => {
  for (const description of [undefined, "", "Fix it", text(LARGE_TEXT_LENGTH)]) {
    const t = task(description);
    assert.equal(taskForCache(t), t);
    assert.equal(omittedText(taskForCache(t)), undefined);
  }
  // Too long for the schema: kept, so that validation still fails the Task for it.
  const invalid = task(text(MAX_TEXT_LENGTH + 1));
  assert.equal(taskForCache(invalid), invalid);
  assert.equal(taskForCache({ metadata: { name: "no-spec" } }).spec, undefined);
});

Deno.test("large text: long inline content is left out of the cached Context", () => {
  const long = text(256 * 1024);
  const cached = contextForCache(inline(long));
  assert.deepEqual(cached.spec, { type: "Inline", inline: {} });
  assert.deepEqual(omittedText(cached), { field: "spec.inline.content", length: long.length });
  const small = inline("Use tabs.");
  assert.equal(contextForCache(small), small);
  const git: KubeObject = { metadata: { name: "repo" }, spec: { type: "Git", git: {} } };
  assert.equal(contextForCache(git), git);
});

Deno.test("large text: the description is read live only when the cache left it out", async () => {
  const long = text(LARGE_TEXT_LENGTH * 3);
  const { live, reads } = liveOf({ "tasks/team/fix": task(long) });
  const parsed = { metadata: { namespace: "team", name: "fix" }, spec: { agentRef: "a" } } as Task;

  const full = await withDescription(parsed, taskForCache(task(long)), live);
  assert.equal(full?.spec.description, long);
  assert.equal(full?.spec.agentRef, "a");
  assert.deepEqual(reads, [`${TaskResource.plural}/team/fix`]);

  const short = { ...parsed, spec: { description: "Fix it" } } as Task;
  assert.equal(await withDescription(short, taskForCache(task("Fix it")), live), short);
  assert.equal(reads.length, 1);

  // Deleted meanwhile: nothing to start.
  const gone = liveOf({});
  assert.equal(await withDescription(parsed, taskForCache(task(long)), gone.live), undefined);
});

Deno.test("large text: a Context is read live when its content was left out or it is not cached", async () => {
  const long = text(LARGE_TEXT_LENGTH * 2);
  const { live, reads } = liveOf({ "contexts/team/guide": inline(long) });
  const small = inline("Use tabs.");
  assert.equal(await fullContext(small, live, "team", "guide"), small);
  assert.equal(reads.length, 0);
  const read = await fullContext(contextForCache(inline(long)), live, "team", "guide");
  assert.equal(read?.spec.inline.content, long);
  assert.equal((await fullContext(undefined, live, "team", "guide"))?.spec.inline.content, long);
  assert.deepEqual(reads, [
    `${ContextResource.plural}/team/guide`,
    `${ContextResource.plural}/team/guide`,
  ]);
});
