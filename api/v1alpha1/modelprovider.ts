// ModelProvider: a model API the gateway forwards Agents' calls to, defined
// once by the platform (cluster-scoped). Its key stays in a Secret of the
// gateway's own namespace; agent pods never hold it.
import { z } from "zod";
import { objectMeta } from "./common.ts";
import { usdAmount } from "./budget.ts";
import { celRules, dataKey, objectName } from "./validation.ts";

export const MODEL_PROTOCOLS = [
  "AnthropicMessages",
  "OpenAIResponses",
  "OpenAIChatCompletions",
  "Gemini",
] as const;
export const modelProtocol = z.enum(MODEL_PROTOCOLS);
export type ModelProtocol = z.infer<typeof modelProtocol>;

// https, or http to a host name or address (the platform's choice, e.g. an
// in-cluster proxy); no user info, query or fragment: the key goes in a header.
const UPSTREAM = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[-A-Za-z0-9._~%/]*)?$";

export const modelPrice = z.object({
  model: z.string().min(1).max(128).regex(/^([A-Za-z0-9][A-Za-z0-9._:/@-]*[*]?|[*])$/).describe(
    'A model name, or a prefix ending in "*" (e.g. "claude-sonnet-*"; "*" alone: every ' +
      "model); the most specific entry wins.",
  ),
  inputPerMTok: usdAmount("prices[].inputPerMTok").describe(
    "US dollars per million input tokens.",
  ),
  outputPerMTok: usdAmount("prices[].outputPerMTok").describe(
    "US dollars per million output tokens.",
  ),
  cacheReadPerMTok: usdAmount("prices[].cacheReadPerMTok").optional().describe(
    "US dollars per million tokens read from the prompt cache (default: the input price).",
  ),
  cacheWritePerMTok: usdAmount("prices[].cacheWritePerMTok").optional().describe(
    "US dollars per million tokens written to the prompt cache (default: the input price).",
  ),
});
export type ModelPrice = z.infer<typeof modelPrice>;

export const modelProviderSpec = z.object({
  protocol: modelProtocol.describe(
    "The wire protocol: AnthropicMessages (Claude Code), OpenAIResponses (Codex), " +
      "OpenAIChatCompletions (OpenCode) or Gemini (Gemini CLI).",
  ),
  upstreamURL: z.string().min(1).max(2048)
    .refine((v) => new RegExp(UPSTREAM).test(v), {
      message: "upstreamURL must be an http(s) URL without user, password, query or fragment",
    })
    .meta(celRules({
      rule: `self.matches('${UPSTREAM}')`,
      message: "upstreamURL must be an http(s) URL without user, password, query or fragment, " +
        'e.g. "https://api.anthropic.com"',
    }))
    .describe("Base URL of the provider's API; request paths are appended to it."),
  secretRef: z.object({
    name: objectName("secretRef.name").describe("Secret in the gateway's own namespace."),
    key: dataKey("secretRef.key").describe("Key of the Secret holding the API key."),
  }).describe("The provider's API key. Only the gateway reads it."),
  prices: z.array(modelPrice).max(256).optional().describe(
    "Prices per model, for live cost and dollar budgets. A model without a price costs 0.",
  ),
  defaultMaxOutputTokens: z.int().min(1).max(10_000_000).default(64_000).describe(
    "Output tokens assumed for a request that sets no maximum, when reserving its worst " +
      "case against a budget.",
  ),
});
export type ModelProviderSpec = z.infer<typeof modelProviderSpec>;

export const modelProvider = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: modelProviderSpec,
});
export type ModelProvider = z.infer<typeof modelProvider>;
