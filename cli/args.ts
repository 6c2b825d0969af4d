// Command-line parsing for the kubetask CLI: kubectl's connection flags
// (--kubeconfig, --context, -n/--namespace) anywhere, then a subcommand's own.
import { parseArgs } from "node:util";

/** Bad usage: the command exits 2 with this message. */
export class UsageError extends Error {}

export interface Connection {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces: boolean;
}

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

const CONNECTION: OptionSpec = {
  kubeconfig: { type: "string" },
  // kubectl's --context; `run` uses --context for Task Contexts, so --kube-context always works.
  context: { type: "string" },
  "kube-context": { type: "string" },
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  help: { type: "boolean", short: "h" },
};

export interface Parsed {
  connection: Connection;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  help: boolean;
}

/** Parses a subcommand's arguments; unknown flags are a UsageError naming them. */
export function parseCommand(args: string[], options: OptionSpec): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...CONNECTION, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify.*$/, ""));
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    connection: {
      kubeconfig: v.kubeconfig as string | undefined,
      context: (v["kube-context"] as string | undefined) ??
        ("context" in options ? undefined : v.context as string | undefined),
      namespace: v.namespace as string | undefined,
      allNamespaces: v["all-namespaces"] === true,
    },
    values: v,
    positionals: parsed.positionals,
    help: v.help === true,
  };
}
