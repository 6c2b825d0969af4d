// Assembles task.md: the description first (highest priority), then every
// context without a mountPath, Agent contexts before Task contexts.
//
// Framing: a <context> block ends only at the operator's own closing tag.
// Text from users (the description, a Context's content, a ConfigMap's files)
// cannot open or close a <context> or <file> tag: such tags in it are written
// with "&lt;" instead of "<", so a ConfigMap cannot forge a block claiming to
// come from another Context or namespace.

/** A context whose content is appended to task.md inside a <context> tag. */
export interface AppendedContext {
  name: string;
  namespace: string;
  type: string;
  content: string;
  /** The content is the operator's own <file> blocks, each file already defused. */
  framed?: boolean;
}

function attr(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/** User text with every `<context`, `</context`, `<file` and `</file` tag defused. */
export function defuseFraming(text: string): string {
  return text.replace(/<(\/?\s*(?:context|file)\b)/gi, "&lt;$1");
}

/**
 * One `<context …>` block; trailing newlines of the content are dropped.
 * `content` may contain the operator's own <file> blocks (a whole ConfigMap),
 * already built from defused file contents.
 */
export function contextBlock(ctx: AppendedContext, contentIsFramed = false): string {
  const open = `<context name="${attr(ctx.name)}" namespace="${attr(ctx.namespace)}" type="${
    attr(ctx.type)
  }">`;
  const content = contentIsFramed ? ctx.content : defuseFraming(ctx.content);
  return `${open}\n${trimTrailingNewlines(content)}\n</context>`;
}

function trimTrailingNewlines(text: string): string {
  return text.replace(/\n+$/, "");
}

/**
 * The full task.md. Pieces are separated by one blank line and the file ends
 * with a newline; with no description and no contexts it is empty.
 */
export function buildTaskMd(description: string | undefined, appended: AppendedContext[]): string {
  const pieces: string[] = [];
  if (description !== undefined && description.trim() !== "") {
    pieces.push(trimTrailingNewlines(defuseFraming(description)));
  }
  for (const ctx of appended) pieces.push(contextBlock(ctx, ctx.framed));
  return pieces.length === 0 ? "" : pieces.join("\n\n") + "\n";
}
