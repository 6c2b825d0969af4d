// Resolves how to reach the apiserver with client-node, the authority on
// kubeconfig files, in-cluster config and auth plugins, and prints it as JSON.
//
// It runs in a short-lived subprocess (see access.ts): client-node and what it
// pulls in cost ~80 MiB that would otherwise stay resident for the operator's
// whole life, while the operator only needs the outcome.
import * as k8s from "@kubernetes/client-node";
import type { ClusterAccess } from "./access.ts";

const decoder = new TextDecoder();
const text = (b: Uint8Array | string | undefined) =>
  b === undefined || typeof b === "string" ? b : decoder.decode(b);

export async function resolveAccess(kubeconfig?: string, context?: string): Promise<ClusterAccess> {
  const kc = new k8s.KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const user = kc.getCurrentUser();
  const opts: {
    ca?: Uint8Array;
    cert?: Uint8Array;
    key?: Uint8Array;
    headers?: Record<string, string>;
    auth?: string;
  } = {};
  await kc.applyToHTTPSOptions(opts as Parameters<k8s.KubeConfig["applyToHTTPSOptions"]>[0]);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = String(v);
  if (opts.auth) headers["Authorization"] = `Basic ${btoa(opts.auth)}`;
  const provider = user?.authProvider as
    | { name?: string; config?: Record<string, string> }
    | undefined;
  // In-cluster: a projected token file that the kubelet rotates; the
  // operator re-reads the file itself rather than calling us again.
  const tokenFile = provider?.name === "tokenFile" ? provider.config?.tokenFile : undefined;
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return {
    server: cluster.server.replace(/\/$/, ""),
    ...(namespace ? { namespace } : {}),
    caData: text(opts.ca),
    certData: text(opts.cert),
    keyData: text(opts.key),
    skipTLSVerify: cluster.skipTLSVerify || undefined,
    headers,
    tokenFile,
    expiring: !!user?.exec || (!!provider && !tokenFile),
  };
}

/** Entry point of the subprocess: arguments [kubeconfig] [context] ("" = default). */
export async function resolveAccessMain(args: string[]): Promise<number> {
  try {
    const access = await resolveAccess(args[0] || undefined, args[1] || undefined);
    await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(access)));
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await resolveAccessMain(Deno.args));
