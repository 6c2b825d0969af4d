// The scripted model server: a test double for the model providers' APIs
// (Anthropic Messages for Claude Code, OpenAI Responses for Codex, Gemini for
// Gemini CLI, OpenAI chat completions for OpenCode) that replays scripted
// turns to the real agent CLIs.
//
//   const server = await startModelServer({
//     hostname: "127.0.0.1", // or the real node's bridge address
//     scripts: [{
//       marker: "task-fix-1", // somewhere in task.md
//       turns: [
//         { text: "Running the tests.", shell: "npm test" },
//         { shell: "git commit -am fix && git push origin HEAD:kubetask/x" },
//         { text: "Fixed and pushed." },
//       ],
//       failures: [{ at: 0, status: 429, times: 1 }], // optional
//     }],
//   });
//   ... run the CLI with server.url ...
//   // optional: eventDelayMs: 50 paces streams one SSE event at a time (a slow model); a
//   // stream the client abandons then shows as aborted: true in its record.
//   server.requests  // every request: protocol, path, headers (API key), body, marker, turn, status
//   server.usage("task-fix-1") // the tokens the CLI was told it used
//   await server.close();
//
// How a turn is chosen: the script whose marker the conversation carries (first
// user message first, then the whole request), at the index = number of tool
// results already in the conversation; so a CLI's retry gets the same answer.
// Requests with no marker or offering no tools (titles, model routing, token
// counts) get a generic answer and report 0 tokens. Errors carry
// x-should-retry (false for 401, so Claude Code fails at once instead of
// retrying for three minutes) and retry-after: 1 on 429.
//
// Facts about the CLIs that scripts must respect: Gemini CLI refuses shell
// commands that look like command substitution (a scripted `echo $((20 + 22))`
// came back "Blocked: command substitution detected in shell command.", and
// the run still exited 0); Claude Code refuses --dangerously-skip-permissions
// as root. How to run each
// CLI against the server: cli_invocation.ts; the pinned CLIs: clis.ts.
export type { Script, Turn } from "./script.ts";
export type { ModelServer, RecordedRequest } from "./server.ts";
export { startModelServer, toolResultsOf } from "./server.ts";
