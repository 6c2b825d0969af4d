// Scripts and turn selection for the scripted model server.
//
// A Script is chosen by a marker string in the conversation; its turn is the
// number of tool results the conversation already holds. Both are read from
// the request alone, so a CLI that retries a request gets the same answer.

/** One model answer: ask the CLI to run a shell command (optionally after some text), or end the run.
 *  `usage` replaces the token counts the answer reports (else derived from the sizes, see below). */
export type Turn =
  & ({ shell: string; text?: string } | { text: string })
  & { usage?: { inputTokens?: number; outputTokens?: number } };

export interface Script {
  /** Chosen when the conversation's first user message contains this string. */
  marker: string;
  turns: Turn[];
  /** Serve these HTTP errors first at turn index `at` (e.g. 429 once then succeed; or 401 always with times: Infinity). */
  failures?: { at: number; status: number; times: number; message?: string }[];
}

/** What a protocol module reads from a request, in protocol-neutral terms. */
export interface Conversation {
  /** Text of each user message, in order. */
  userTexts: string[];
  /** Tool results already in the conversation. */
  toolResults: number;
  /** The tools the request offers (empty for side requests such as title generation). */
  tools: ToolSpec[];
}

export interface ToolSpec {
  name: string;
  /** JSON schema of the arguments, when the request gives one. */
  schema?: unknown;
}

/**
 * The script whose marker the conversation carries: the first user message
 * first, then any user message, then the whole request text. The longest
 * marker wins, so "task-1" does not capture "task-10".
 */
export function findScript(
  scripts: Script[],
  conversation: Conversation,
  bodyText: string,
): Script | undefined {
  const byLength = [...scripts].sort((a, b) => b.marker.length - a.marker.length);
  const haystacks = [
    conversation.userTexts[0] ?? "",
    conversation.userTexts.join("\n"),
    bodyText,
  ];
  for (const text of haystacks) {
    const found = byLength.find((s) => s.marker !== "" && text.includes(s.marker));
    if (found) return found;
  }
  return undefined;
}

/** The turn to answer; past the end of the script, a final text that says so. */
export function turnAt(script: Script, index: number): Turn {
  return script.turns[index] ??
    { text: `[model server] script ${JSON.stringify(script.marker)} has no turn ${index}` };
}

/** Deterministic token counts: about four bytes of request per input token, four characters of answer per output token. */
export function inputTokensFor(bodyText: string): number {
  return Math.max(1, Math.ceil(new TextEncoder().encode(bodyText).length / 4));
}

export function outputTokensFor(turn: Turn, toolArguments?: unknown): number {
  const text = (turn.text ?? "") +
    (toolArguments === undefined ? "" : JSON.stringify(toolArguments));
  return Math.max(1, Math.ceil(text.length / 4));
}

/** A short stable id for tool calls: the same request gets the same id. */
export function callId(marker: string, turn: number): string {
  let h = 2166136261;
  for (const c of marker) h = Math.imul(h ^ c.codePointAt(0)!, 16777619) >>> 0;
  return `${h.toString(16).padStart(8, "0")}${turn.toString(16).padStart(4, "0")}`;
}

/** Text content of a message in any of the protocols' shapes (string, parts, content blocks). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map(textOf).filter((t) => t !== "").join("\n");
  if (content && typeof content === "object") {
    const o = content as Record<string, unknown>;
    if (typeof o.text === "string") return o.text;
    if (o.content !== undefined) return textOf(o.content);
  }
  return "";
}
