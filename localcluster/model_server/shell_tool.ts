// Finds a CLI's own shell tool among the tools a request offers and builds
// the arguments that make it run one command, from the tool's JSON schema.
//
// Claude Code calls it Bash {command, description}, Codex exec_command {cmd}
// (or shell {command: string[]}), Gemini CLI run_shell_command {command},
// OpenCode bash {command, description}.
import type { ToolSpec } from "./script.ts";

const preferred = ["Bash", "exec_command", "run_shell_command", "bash", "shell", "local_shell"];

export function pickShellTool(tools: ToolSpec[]): ToolSpec | undefined {
  for (const name of preferred) {
    const t = tools.find((x) => x.name === name);
    if (t) return t;
  }
  return tools.find((t) => /bash|shell|exec|command/i.test(t.name));
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
}

function typeOf(s: Schema | undefined): string | undefined {
  const t = s?.type;
  return (Array.isArray(t) ? t.find((x) => x !== "null") : t)?.toLowerCase();
}

/** Arguments for the shell tool that run `command` (with a description where the schema has one). */
export function shellArguments(tool: ToolSpec, command: string): Record<string, unknown> {
  const schema = (tool.schema ?? {}) as Schema;
  const props = schema.properties ?? {};
  const key = ["command", "cmd", "script"].find((k) => k in props) ?? "command";
  const args: Record<string, unknown> = {};
  args[key] = typeOf(props[key]) === "array" ? ["bash", "-lc", command] : command;
  if ("description" in props) args.description = "Runs the scripted command";
  for (const name of schema.required ?? []) {
    if (name in args) continue;
    args[name] = placeholder(props[name]);
  }
  return args;
}

function placeholder(s: Schema | undefined): unknown {
  if (s?.enum?.length) return s.enum[0];
  switch (typeOf(s)) {
    case "number":
    case "integer":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object":
      return {};
    default:
      return "";
  }
}
