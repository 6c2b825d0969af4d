// iptables for the real node's chains (network_policies.ts, apiserver_service.ts).

/** Runs iptables; never throws (a missing chain on removal is not an error). */
export async function iptables(args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command("iptables", { args, stdout: "null", stderr: "piped" })
      .output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (err) {
    // Not installed: nothing of ours can be there either.
    return { ok: false, err: String(err) };
  }
}
