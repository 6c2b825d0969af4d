// Codex, Gemini CLI and OpenCode, each the real CLI from its npm package in
// the image agents/ builds, on the real node: the same work as Claude Code's
// (claude_code.test.ts), from task.md to a pushed branch.
import { onRealNode } from "../real_node.ts";
import { CLI_CASES } from "./cli_cases.ts";
import { fixAndPush } from "./fix_and_push.ts";

for (const cli of ["codex", "gemini-cli", "opencode"] as const) {
  Deno.test(
    onRealNode(`e2e: ${cli} fixes a failing test, commits and pushes a branch`),
    () => fixAndPush(CLI_CASES[cli]),
  );
}
