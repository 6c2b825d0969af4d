// @ts-check
// The agent CLIs the entrypoint knows, by the name an image or Agent gives.
import { claudeCode } from "./claude_code.mjs";
import { codex } from "./codex.mjs";
import { geminiCli } from "./gemini_cli.mjs";
import { opencode } from "./opencode.mjs";

/** @type {Record<string, import("./adapter.mjs").Adapter>} */
export const ADAPTERS = Object.fromEntries(
  [claudeCode, codex, geminiCli, opencode].map((a) => [a.name, a]),
);
