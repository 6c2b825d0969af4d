// The operator's DNS look-up for Git context hosts (see git.ts): A and AAAA
// records through the system resolver, bounded in time.
import type { Resolution } from "./git.ts";

const LOOKUP_TIMEOUT_MS = 5_000;

export async function resolveHost(host: string): Promise<Resolution> {
  const lookup = (type: "A" | "AAAA") =>
    Deno.resolveDns(host, type, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) });
  const [v4, v6] = await Promise.allSettled([lookup("A"), lookup("AAAA")]);
  const addresses = [v4, v6].flatMap((r) => r.status === "fulfilled" ? r.value : []);
  if (addresses.length > 0) return { addresses };
  const reason = [v4, v6].find((r) => r.status === "rejected") as
    | PromiseRejectedResult
    | undefined;
  return reason
    ? { error: String(reason.reason?.message ?? reason.reason).slice(0, 200) }
    : { addresses: [] };
}
