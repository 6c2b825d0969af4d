// The scripted model server: a test double for the model providers' APIs
// (Anthropic Messages, OpenAI Responses, Gemini, OpenAI chat completions)
// that replays scripted turns to the real agent CLIs. See server.ts.
export type { Script, Turn } from "./script.ts";
export type { ModelServer, RecordedRequest } from "./server.ts";
export { startModelServer } from "./server.ts";
