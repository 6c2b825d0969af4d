// A Task's transcript for people: one block per exchange (time, model, status,
// duration, tokens, the last user message, the assistant's text and tool calls).
import { protocolModule } from "./protocols/mod.ts";
import type { TranscriptRecord } from "./transcripts.ts";
import type { ProtocolName } from "./types.ts";

const PROTOCOLS = new Set<string>([
  "anthropic-messages",
  "openai-responses",
  "openai-chat-completions",
  "gemini",
]);

function clip(text: string, max = 2000): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}

export function renderTranscriptText(records: TranscriptRecord[]): string {
  if (records.length === 0) return "(no exchanges recorded)\n";
  return records.map(renderRecord).join("\n");
}

function renderRecord(r: TranscriptRecord, i: number): string {
  const u = r.usage;
  const tokens = u
    ? `in ${u.inputTokens} out ${u.outputTokens} cache-read ${u.cacheReadTokens} cache-write ${u.cacheWriteTokens} $${u.costUSD}`
    : "no usage";
  const flags = [r.incomplete && "INCOMPLETE", r.truncated && "TRUNCATED (over the size cap)"]
    .filter(Boolean);
  const lines = [
    `#${i + 1} ${r.time}  ${r.model ?? "?"}  HTTP ${r.status}  ${
      (r.durationMs / 1000).toFixed(2)
    }s  ${tokens}${flags.length ? "  " + flags.join(" ") : ""}`,
  ];
  if (r.refused) lines.push(`refused: ${r.refused}`);
  if (r.unfinished) lines.push(`unfinished: ${r.unfinished}`);
  if (r.truncated) return lines.join("\n") + "\n";
  const protocol: ProtocolName = PROTOCOLS.has(r.protocol ?? "")
    ? r.protocol as ProtocolName
    : "anthropic-messages";
  const response = r.response as Record<string, unknown> | undefined;
  const streamed = response && response.stream === true && Array.isArray(response.events);
  let summary;
  try {
    summary = protocolModule(protocol).summarize(
      r.request,
      streamed ? undefined : response,
      streamed ? response.events as unknown[] : undefined,
    );
  } catch {
    summary = { assistantText: "", toolCalls: [] };
  }
  if (summary.lastUserMessage) lines.push("user:", indent(clip(summary.lastUserMessage)));
  if (summary.assistantText) lines.push("assistant:", indent(clip(summary.assistantText)));
  for (const call of summary.toolCalls) lines.push(`tool call ${call.name}: ${clip(call.input)}`);
  if (r.status >= 400 && response && !streamed) {
    lines.push(`error: ${clip(JSON.stringify(response), 500)}`);
  }
  return lines.join("\n") + "\n";
}
