// The ModelProviders the platform defined, each with its key read from a
// Secret of the gateway's own namespace (the only Secrets it may read).
// Looked up by name when a caller is identified and kept a short while, so a
// rotated key or an edited price table is picked up within that time.
import { type ModelProtocol, modelProvider as modelProviderSchema } from "../api/v1alpha1/index.ts";
import { ModelProviderResource } from "../controllers/kinds.ts";
import { SecretResource } from "../controllers/runtime/resources.ts";
import type { LiveReader } from "../controllers/runtime/types.ts";
import type { ProtocolName, Provider } from "./types.ts";

export const PROVIDER_TTL_MS = 30_000;

const PROTOCOLS: Record<ModelProtocol, ProtocolName> = {
  AnthropicMessages: "anthropic-messages",
  OpenAIResponses: "openai-responses",
  OpenAIChatCompletions: "openai-chat-completions",
  Gemini: "gemini",
};

export type ProviderLookup = { ok: true; provider: Provider } | { ok: false; reason: string };

export interface ProviderCatalog {
  get(name: string): Promise<ProviderLookup>;
}

export class ApiProviderCatalog implements ProviderCatalog {
  private readonly known = new Map<string, { lookup: ProviderLookup; until: number }>();

  constructor(
    private readonly client: LiveReader,
    /** The gateway's own namespace: where provider Secrets live. */
    private readonly namespace: string,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string): Promise<ProviderLookup> {
    const known = this.known.get(name);
    if (known && known.until > this.now()) return known.lookup;
    const lookup = await this.lookUp(name);
    this.known.set(name, { lookup, until: this.now() + PROVIDER_TTL_MS });
    return lookup;
  }

  private async lookUp(name: string): Promise<ProviderLookup> {
    const raw = await this.client.get(ModelProviderResource, "", name);
    if (!raw) return { ok: false, reason: `ModelProvider ${name} does not exist` };
    const parsed = modelProviderSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: `ModelProvider ${name} is invalid` };
    const spec = parsed.data.spec;
    const secret = await this.client.get(SecretResource, this.namespace, spec.secretRef.name);
    const encoded = secret?.data?.[spec.secretRef.key];
    if (typeof encoded !== "string" || encoded === "") {
      return {
        ok: false,
        reason: `ModelProvider ${name}: key ${spec.secretRef.key} of Secret ` +
          `${this.namespace}/${spec.secretRef.name} is missing`,
      };
    }
    const key = new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)))
      .trim();
    return {
      ok: true,
      provider: {
        name,
        protocol: PROTOCOLS[spec.protocol],
        upstreamURL: spec.upstreamURL.replace(/\/+$/, ""),
        key,
        prices: spec.prices ?? [],
        defaultMaxOutputTokens: spec.defaultMaxOutputTokens,
      },
    };
  }
}
