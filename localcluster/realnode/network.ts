// The real node's own network: one bridge and one /24 per cluster, so two
// clusters (say `test` and `dev`) run side by side. The bridge's name comes
// from the cluster's name; the /24 starts from the same hash and moves on past
// any /24 this machine already uses (another cluster's bridge, a host route).

export interface NodeNetwork {
  bridge: string;
  subnet: string;
  /** The bridge's own address: the node IP, the pods' gateway. */
  gateway: string;
}

function hashOf(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}

/** The bridge's name for a cluster (at most 15 characters, as Linux wants). */
export function bridgeOf(name: string): string {
  return `kt${hashOf(name).toString(16).padStart(8, "0").slice(0, 8)}`;
}

function toNumber(ip: string): number {
  return ip.split(".").reduce((n, part) => (n * 256 + Number(part)) >>> 0, 0);
}

/** Whether two IPv4 CIDRs share any address. */
export function overlaps(a: string, b: string): boolean {
  const [ipA, bitsA = "32"] = a.split("/");
  const [ipB, bitsB = "32"] = b.split("/");
  const bits = Math.min(Number(bitsA), Number(bitsB));
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((toNumber(ipA) & mask) >>> 0) === ((toNumber(ipB) & mask) >>> 0);
}

async function ip(args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output()
    .catch(() => undefined);
  const text = (b?: Uint8Array) => new TextDecoder().decode(b ?? new Uint8Array());
  return { ok: !!out?.success, out: text(out?.stdout), err: text(out?.stderr).trim() };
}

/** Every IPv4 network this machine has an address in or a route to. */
async function networksInUse(): Promise<string[]> {
  const addrs = (await ip(["-o", "-4", "addr", "show"])).out;
  const routes = (await ip(["-4", "route", "show", "table", "all"])).out;
  const inUse = [...addrs.matchAll(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/g)].map((m) => m[1]);
  for (const line of routes.split("\n")) {
    const dst = line.trim().split(/\s+/)[0] ?? "";
    // "default" and local/broadcast entries for our own addresses are not networks we'd clash with.
    if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst) && !dst.endsWith("/0")) inUse.push(dst);
  }
  return inUse;
}

/**
 * Picks a free /24 in 10.244.0.0/16 for cluster `name` and creates its bridge
 * with the gateway address. A bridge of that name left by a crash is removed first.
 */
export async function createNetwork(name: string): Promise<NodeNetwork> {
  const bridge = bridgeOf(name);
  await deleteBridge(bridge);
  const inUse = await networksInUse();
  const start = hashOf(name) % 250;
  for (let i = 0; i < 250; i++) {
    const octet = 1 + ((start + i) % 250);
    const subnet = `10.244.${octet}.0/24`;
    if (inUse.some((n) => overlaps(n, subnet))) continue;
    const net = { bridge, subnet, gateway: `10.244.${octet}.1` };
    for (
      const args of [
        ["link", "add", "name", bridge, "type", "bridge"],
        ["addr", "add", `${net.gateway}/24`, "dev", bridge],
        ["link", "set", bridge, "up"],
      ]
    ) {
      const res = await ip(args);
      if (!res.ok) {
        await deleteBridge(bridge);
        throw new Error(`ip ${args.join(" ")} failed: ${res.err}`);
      }
    }
    return net;
  }
  throw new Error(
    "no free /24 in 10.244.0.0/16 for the real node's bridge: every one overlaps a network " +
      "this machine already uses",
  );
}

export async function deleteBridge(bridge: string): Promise<void> {
  await ip(["link", "delete", bridge]);
}
