// Small readers for untyped JSON bodies, shared by the protocol modules.

export type Obj = Record<string, unknown>;

export function obj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A non-negative integer count, else 0 (hostile or missing fields count nothing). */
export function count(v: unknown): number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** A positive integer limit, else undefined. */
export function limit(v: unknown): number | undefined {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Readable text of message content in any of the protocols' shapes. */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map(textOf).filter((t) => t !== "").join("\n");
  const o = obj(content);
  if (typeof o.text === "string") return o.text;
  if (o.content !== undefined) return textOf(o.content);
  if (typeof o.output === "string") return o.output;
  return "";
}

/** A response body's `usage` object through the protocol's reader; undefined when absent. */
export function usageField<T>(body: unknown, read: (usage: Obj) => T): T | undefined {
  const u = obj(body).usage;
  return u && typeof u === "object" ? read(obj(u)) : undefined;
}
