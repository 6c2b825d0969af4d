// Large text stays out of the informer caches. A Task's description and an
// Inline Context's content are read only when task.md is built, once per Task
// start, yet a cache would hold them for as long as the objects exist: 1,000
// Contexts of 256 KiB are 256 MiB of strings, over the operator's memory limit.
// So the caches keep such text only up to LARGE_TEXT_LENGTH characters; beyond
// that the cached copy carries its length instead (never serialized, never
// sent), and the text is read live, by name, where task.md is built.
import { MAX_TEXT_LENGTH, type Task } from "../../api/v1alpha1/index.ts";
import { ContextResource, TaskResource } from "../kinds.ts";
import type { KubeObject, LiveReader } from "../runtime/types.ts";

/** Text up to this many characters is cached as is (a typical description, a small note). */
export const LARGE_TEXT_LENGTH = 4 * 1024;

/**
 * Marks a cached object whose large text was left out: a symbol, so that
 * JSON (a status write carries the observed object) never sees it.
 */
export const OMITTED_TEXT: unique symbol = Symbol("kubetask.omittedText");

export interface OmittedText {
  /** Where the text was: "spec.description" or "spec.inline.content". */
  field: string;
  /** Its length in characters. */
  length: number;
}

/** What the cache left out of `obj`, if anything. */
export function omittedText(obj: KubeObject | undefined): OmittedText | undefined {
  return (obj as { [OMITTED_TEXT]?: OmittedText } | undefined)?.[OMITTED_TEXT];
}

/**
 * Whether text is left out of the cache. Text beyond the API's own limit
 * stays, so validation (which the cached copy still goes through) refuses it
 * as it would without this.
 */
const leftOut = (text: unknown): text is string =>
  typeof text === "string" && text.length > LARGE_TEXT_LENGTH && text.length <= MAX_TEXT_LENGTH;

function marked(obj: KubeObject, field: string, length: number): KubeObject {
  const omitted: OmittedText = { field, length };
  return Object.assign(obj, { [OMITTED_TEXT]: omitted });
}

/** What the Task cache keeps: everything but a large description. */
export function taskForCache(task: KubeObject): KubeObject {
  const description = task.spec?.description;
  if (!leftOut(description)) return task;
  const { description: _dropped, ...spec } = task.spec;
  return marked({ ...task, spec }, "spec.description", description.length);
}

/** What the Context cache keeps: everything but large inline content. */
export function contextForCache(context: KubeObject): KubeObject {
  const content = context.spec?.inline?.content;
  if (!leftOut(content)) return context;
  const { content: _dropped, ...inline } = context.spec.inline;
  return marked(
    { ...context, spec: { ...context.spec, inline } },
    "spec.inline.content",
    content.length,
  );
}

/**
 * The Task with its description, read live when the cache left it out.
 * Undefined when the Task is gone from the apiserver (nothing to start).
 */
export async function withDescription(
  task: Task,
  cached: KubeObject,
  live: LiveReader,
): Promise<Task | undefined> {
  if (!omittedText(cached)) return task;
  const { namespace = "", name = "" } = task.metadata;
  const full = await live.get(TaskResource, namespace, name);
  if (!full) return undefined;
  // Only the description is taken: the rest was judged from the cached spec. A
  // description edited since is newer here, as a cache catching up would show it.
  return { ...task, spec: { ...task.spec, description: full.spec?.description } };
}

/**
 * A Context as a Task's start needs it: the cached copy, unless the cache
 * left its content out or lacks it (created just before its Task, its watch
 * event still on the way); then it is read live.
 */
export async function fullContext(
  cached: KubeObject | undefined,
  live: LiveReader,
  namespace: string,
  name: string,
): Promise<KubeObject | undefined> {
  if (cached && !omittedText(cached)) return cached;
  return await live.get(ContextResource, namespace, name);
}
