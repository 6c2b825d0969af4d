// @ts-check
// The agent CLIs the entrypoint knows, by the name an image or Agent gives.
import { claudeCode } from "./claude_code.mjs";

/** @type {Record<string, import("./adapter.mjs").Adapter>} */
export const ADAPTERS = {
  [claudeCode.name]: claudeCode,
};
