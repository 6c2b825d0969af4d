// `kubetask transcript TASK`: the model calls of a Task as the gateway kept
// them. Reached through the apiserver's proxy to the gateway's Service (no
// network path to the gateway is needed), and authorized as the user: the
// user's own bearer token travels in a header of its own (the apiserver's
// proxy does not pass Authorization on), and the gateway asks the apiserver
// whether that user may `get` the Task.
import { parseCommand, UsageError } from "./args.ts";
import type { Output } from "./output.ts";
import { openSession } from "./session.ts";
import { CommandError } from "./tasks.ts";

export const TRANSCRIPT_USAGE = `usage: kubetask transcript TASK [-n NS] [-o json]
  --gateway-namespace NS    where the gateway runs (default kubetask-system)
  --gateway-service NAME    its Service (default kubetask-gateway; port named https)
  --gateway-url URL         reach the gateway directly instead (e.g. through a port-forward)
  --gateway-ca-file PATH    with --gateway-url: the CA of its certificate`;

/** The header the gateway reads the reader's token from (gateway/tasks.ts). */
const READER_TOKEN_HEADER = "X-KubeTask-User-Authorization";

export async function transcriptCommand(args: string[], out: Output): Promise<number> {
  const parsed = parseCommand(args, {
    output: { type: "string", short: "o" },
    "gateway-namespace": { type: "string" },
    "gateway-service": { type: "string" },
    "gateway-url": { type: "string" },
    "gateway-ca-file": { type: "string" },
  });
  if (parsed.help) return out.usage(TRANSCRIPT_USAGE);
  if (parsed.positionals.length !== 1) {
    throw new UsageError(`expected one Task name\n${TRANSCRIPT_USAGE}`);
  }
  const format = parsed.values.output;
  if (format !== undefined && format !== "json") {
    throw new UsageError(`-o must be json (or left out for text), got ${format}`);
  }
  const gatewayNamespace = String(parsed.values["gateway-namespace"] ?? "kubetask-system");
  const service = String(parsed.values["gateway-service"] ?? "kubetask-gateway");
  const s = await openSession(parsed.connection);
  try {
    const task = parsed.positionals[0];
    const authorization = (await s.transport.access.current()).headers.Authorization;
    if (!authorization?.startsWith("Bearer ")) {
      throw new CommandError(
        "transcripts are authorized by your bearer token, and this kubeconfig's user has none " +
          "(a client certificate): use a token-based user (OIDC, a cloud provider's exec " +
          "plugin, a ServiceAccount token)",
      );
    }
    const transcript = `/transcripts/${encodeURIComponent(s.namespace)}/${
      encodeURIComponent(task)
    }`;
    const query: Record<string, string> = format === "json" ? { format: "json" } : {};
    const headers = { [READER_TOKEN_HEADER]: authorization };
    const direct = parsed.values["gateway-url"];
    const res = typeof direct === "string"
      ? await fetchDirect(direct, transcript, query, headers, parsed.values["gateway-ca-file"])
      : await s.transport.send(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(gatewayNamespace)}/services/` +
          `https:${encodeURIComponent(service)}:https/proxy${transcript}`,
        { query, headers },
      );
    const body = await res.text();
    if (res.status !== 200) {
      throw new CommandError(
        `the gateway answered ${res.status} for Task ${s.namespace}/${task}: ${body.trim()}`,
      );
    }
    out.line(body.replace(/\n$/, ""));
    return 0;
  } finally {
    await s.close();
  }
}

/** The gateway at its own URL (a port-forward, or from inside the cluster). */
async function fetchDirect(
  base: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  caFile: unknown,
): Promise<{ status: number; text(): Promise<string> }> {
  const url = new URL(base.replace(/\/+$/, "") + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const client = typeof caFile === "string"
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caFile)] })
    : undefined;
  try {
    const res = await fetch(url, { headers, ...(client ? { client } : {}) });
    const text = await res.text();
    return { status: res.status, text: () => Promise.resolve(text) };
  } finally {
    client?.close();
  }
}
