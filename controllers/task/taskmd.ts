// Assembles task.md: the description first (highest priority), then every
// context without a mountPath, Agent contexts before Task contexts.

/** A context whose content is appended to task.md inside a <context> tag. */
export interface AppendedContext {
  name: string;
  namespace: string;
  type: string;
  content: string;
}

function attr(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/** One `<context …>` block; trailing newlines of the content are dropped. */
export function contextBlock(ctx: AppendedContext): string {
  const open = `<context name="${attr(ctx.name)}" namespace="${attr(ctx.namespace)}" type="${
    attr(ctx.type)
  }">`;
  return `${open}\n${trimTrailingNewlines(ctx.content)}\n</context>`;
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
    pieces.push(trimTrailingNewlines(description));
  }
  for (const ctx of appended) pieces.push(contextBlock(ctx));
  return pieces.length === 0 ? "" : pieces.join("\n\n") + "\n";
}
