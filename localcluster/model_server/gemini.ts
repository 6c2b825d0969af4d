// Gemini API (Gemini CLI): POST /v1beta/models/{model}:streamGenerateContent?alt=sse
// (SSE, `data:` lines of GenerateContentResponse chunks), :generateContent (one
// JSON object) and :countTokens. Side requests that ask for JSON (the CLI's
// model routing, its next-speaker check) get an object built from their schema.
import { type Answer, errorHeaders, type Incoming, json, type Protocol, sse } from "./protocol.ts";
import { inputTokensFor, textOf, type ToolSpec } from "./script.ts";

type Part = { text: string } | { functionCall: { id?: string; name: string; args: unknown } };

function method(url: URL): string {
  return /:([A-Za-z]+)$/.exec(url.pathname)?.[1] ?? "";
}

function contents(body: Record<string, unknown>): { role?: string; parts?: unknown[] }[] {
  return Array.isArray(body.contents) ? body.contents : [];
}

function usageMetadata(input: number, output: number) {
  return { promptTokenCount: input, candidatesTokenCount: output, totalTokenCount: input + output };
}

function chunk(
  parts: Part[],
  model: string,
  id: string,
  final?: { input: number; output: number },
) {
  return {
    candidates: [{
      content: { role: "model", parts },
      index: 0,
      ...(final ? { finishReason: "STOP" } : {}),
    }],
    ...(final ? { usageMetadata: usageMetadata(final.input, final.output) } : {}),
    modelVersion: model,
    responseId: id,
  };
}

function render(parts: Part[], model: string, id: string, input: number, output: number, url: URL) {
  if (method(url) !== "streamGenerateContent") {
    return json(chunk(parts, model, id, { input, output }));
  }
  // One chunk per text piece, the function call in the last one with the finish reason and usage.
  const texts = parts.filter((p): p is { text: string } => "text" in p);
  const calls = parts.filter((p) => "functionCall" in p);
  const chunks: unknown[] = [];
  const pieces = texts.flatMap((t) => split(t.text));
  if (calls.length === 0) {
    const last = pieces.pop() ?? "";
    for (const p of pieces) chunks.push(chunk([{ text: p }], model, id));
    chunks.push(chunk([{ text: last }], model, id, { input, output }));
  } else {
    for (const p of pieces) chunks.push(chunk([{ text: p }], model, id));
    chunks.push(chunk(calls, model, id, { input, output }));
  }
  return sse(chunks.map((data) => ({ data })));
}

function split(text: string, size = 24): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  minimum?: number;
}

/** A value that fits a (Gemini or JSON) schema: enums take their first value, numbers their minimum or 1 (scores start at 1). */
export function exampleFor(schema: Schema | undefined, key = ""): unknown {
  if (!schema) return "OK";
  if (key === "next_speaker") return "user"; // the CLI's "should the model continue?" check: no
  if (schema.enum?.length) return schema.enum[0];
  if (schema.anyOf?.length) return exampleFor(schema.anyOf[0], key);
  const t = (Array.isArray(schema.type) ? schema.type[0] : schema.type)?.toLowerCase();
  switch (t) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(schema.properties ?? {})) out[k] = exampleFor(s, k);
      return out;
    }
    case "array":
      return [];
    case "number":
    case "integer":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    default:
      return key === "reasoning" ? "model server: generic answer" : "OK";
  }
}

const statusNames: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

export const gemini: Protocol = {
  name: "gemini",
  handles: (url) =>
    /\/models\/[^/]+:(streamGenerateContent|generateContent|countTokens)$/.test(url.pathname),
  conversation(req: Incoming) {
    if (method(req.url) === "countTokens") return undefined;
    const turns = contents(req.body);
    const userTexts = turns.filter((c) => c.role !== "model").map((c) => textOf(c.parts ?? []))
      .filter((t) => t !== "");
    let toolResults = 0;
    for (const c of turns) {
      for (const p of c.parts ?? []) {
        if (p && typeof p === "object" && "functionResponse" in p) toolResults++;
      }
    }
    const tools: ToolSpec[] = [];
    for (const t of Array.isArray(req.body.tools) ? req.body.tools : []) {
      for (const f of Array.isArray(t?.functionDeclarations) ? t.functionDeclarations : []) {
        if (typeof f?.name === "string") {
          tools.push({ name: f.name, schema: f.parametersJsonSchema ?? lowerTypes(f.parameters) });
        }
      }
    }
    return { userTexts, toolResults, tools };
  },
  respond(answer: Answer, req: Incoming) {
    const parts: Part[] = [];
    if (answer.text) parts.push({ text: answer.text });
    if (answer.call) {
      parts.push({
        functionCall: {
          id: `call_${answer.call.id}`,
          name: answer.call.name,
          args: answer.call.args,
        },
      });
    }
    return render(parts, answer.model, answer.id, answer.inputTokens, answer.outputTokens, req.url);
  },
  generic(req: Incoming) {
    const model = /\/models\/([^/:]+)/.exec(req.url.pathname)?.[1] ?? "model-server";
    if (method(req.url) === "countTokens") {
      return json({ totalTokens: inputTokensFor(req.bodyText) });
    }
    const config = (req.body.generationConfig ?? {}) as Record<string, unknown>;
    const wantsJson = config.responseMimeType === "application/json" || config.responseJsonSchema ||
      config.responseSchema;
    const text = wantsJson
      ? JSON.stringify(exampleFor((config.responseJsonSchema ?? config.responseSchema) as Schema))
      : "OK";
    return render([{ text }], model, "generic", 0, 0, req.url);
  },
  error(status: number, message: string) {
    return json(
      { error: { code: status, message, status: statusNames[status] ?? "UNKNOWN" } },
      status,
      errorHeaders(status),
    );
  },
};

/** Gemini's own schema spells types in capitals (OBJECT, STRING); the argument builder reads JSON schema. */
function lowerTypes(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(lowerTypes);
  if (!schema || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === "type" && typeof v === "string" ? v.toLowerCase() : lowerTypes(v);
  }
  return out;
}
