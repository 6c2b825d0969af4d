// Gemini generateContent / streamGenerateContent (Gemini CLI): usageMetadata in
// each chunk is cumulative, the last wins; thoughts count as output; cached
// content is part of the prompt, counted once as cache reads. The model comes
// from the path (models/<model>:method).
import type { ExchangeSummary, ProtocolModule, Tokens } from "../types.ts";
import { jsonStreamMeter } from "./meter.ts";
import { arr, count, limit, obj, str, textOf } from "./json.ts";

function tokensOf(u: Record<string, unknown>): Tokens {
  const prompt = count(u.promptTokenCount);
  const cached = Math.min(prompt, count(u.cachedContentTokenCount));
  return {
    input: prompt - cached,
    output: count(u.candidatesTokenCount) + count(u.thoughtsTokenCount),
    cacheRead: cached,
    cacheWrite: 0,
  };
}

const PATH = /(?:^|\/)models\/([^/:]+):([A-Za-z]+)$/;

const statusNames: Record<number, string> = {
  400: "FAILED_PRECONDITION",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
};

function partsText(chunk: Record<string, unknown>): string {
  const content = obj(obj(arr(chunk.candidates)[0]).content);
  return arr(content.parts).map(obj).filter((p) => p.thought !== true).map((p) => str(p.text) ?? "")
    .join("");
}

export const gemini: ProtocolModule = {
  name: "gemini",
  requestFacts(path, body) {
    const m = PATH.exec(path.split("?")[0]);
    return {
      model: m ? decodeURIComponent(m[1]) : undefined,
      maxOutputTokens: m?.[2] === "countTokens"
        ? 0 // counting tokens generates none
        : limit(obj(obj(body).generationConfig).maxOutputTokens),
      stream: m?.[2] === "streamGenerateContent",
    };
  },
  usageFromJson(body) {
    // streamGenerateContent without alt=sse answers a JSON array of chunks.
    const chunks = Array.isArray(body) ? body : [body];
    const last = chunks.map(obj).filter((c) =>
      c.usageMetadata && typeof c.usageMetadata === "object"
    )
      .at(-1);
    return last ? tokensOf(obj(last.usageMetadata)) : undefined;
  },
  meter: jsonStreamMeter((d) => ({
    text: partsText(d),
    usage: d.usageMetadata && typeof d.usageMetadata === "object"
      ? tokensOf(obj(d.usageMetadata))
      : undefined,
  })),
  errorBody(status, message) {
    return { error: { code: status, message, status: statusNames[status] ?? "UNKNOWN" } };
  },
  summarize(request, response, events) {
    const out: ExchangeSummary = { assistantText: "", toolCalls: [] };
    const last = arr(obj(request).contents).map(obj).filter((c) => c.role !== "model").at(-1);
    if (last) {
      out.lastUserMessage = arr(last.parts).map(obj).map((p) =>
        p.functionResponse
          ? `[tool result] ${JSON.stringify(obj(p.functionResponse).response)}`
          : textOf(p)
      ).filter((t) => t !== "").join("\n");
    }
    const chunks = events ?? (Array.isArray(response) ? response : [response]);
    for (const c of chunks.map(obj)) {
      out.assistantText += partsText(c);
      const parts = arr(obj(obj(arr(c.candidates)[0]).content).parts).map(obj);
      for (const p of parts) {
        if (!p.functionCall) continue;
        const f = obj(p.functionCall);
        out.toolCalls.push({ name: str(f.name) ?? "?", input: JSON.stringify(f.args ?? {}) });
      }
    }
    return out;
  },
};
