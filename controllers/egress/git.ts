// Egress for the Git contexts of a Restricted Agent's Task (pure).
//
// The Agent's NetworkPolicy is shared by every Task of the Agent, while the
// repositories come from each Task's Contexts. Admitting a Task's git hosts in
// the Agent's policy would let whoever writes one Task (or one Context shared
// through a ContextGrant) open egress for every other Task's pod of that
// Agent. So each such Task gets a NetworkPolicy of its own, owned by the Task
// (it goes with it), that selects its pod alone: the Agent's uid label and the
// Task's uid label, both set by the operator, never taken from a spec.
//
// NetworkPolicy is L3/L4: a repository's host is resolved (DNS, by the
// operator, once, before the Job is created) and each address allowed as a
// /32 or /128 on the URL's port. What a name resolves to is not trusted:
// addresses that no repository should have (unspecified, loopback,
// link-local such as cloud metadata at 169.254.169.254, multicast, reserved,
// IPv4-mapped) are left out and the Task's status says so.
import { AGENT_UID_LABEL, TASK_UID_LABEL } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { jobNameFor } from "../task/names.ts";
import { MANAGED_BY } from "./policy.ts";

/** A host name resolves to at most this many addresses in a policy (a hostile zone could list thousands). */
export const MAX_ADDRESSES_PER_HOST = 8;

/** Where a repository is: its host (no brackets) and port. */
export interface GitDestination {
  host: string;
  port: number;
}

/** How a host name resolved: its addresses, or why it did not. */
export type Resolution = { addresses: string[] } | { error: string };

/** Resolves a host name to its IPv4 and IPv6 addresses (may reject). */
export type HostResolver = (host: string) => Promise<Resolution>;

const DEFAULT_PORTS: Record<string, number> = { "https:": 443, "ssh:": 22 };

/** The host and port of an https:// or ssh:// repository URL; undefined for anything else. */
export function gitDestination(repository: string): GitDestination | undefined {
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    return undefined;
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (!defaultPort || !url.hostname) return undefined;
  const port = url.port ? Number(url.port) : defaultPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port };
}

function ipv4Octets(address: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return undefined;
  const parts = m.slice(1);
  // "010" is octal to some parsers and decimal to others: refuse the ambiguity.
  if (parts.some((p) => p.length > 1 && p.startsWith("0"))) return undefined;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The canonical form of an IPv6 address (lower case, zeros compressed), or undefined. */
function canonicalIpv6(address: string): string | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(address) || !address.includes(":")) return undefined;
  try {
    return new URL(`http://[${address}]/`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return undefined;
  }
}

/** Whether `host` is an IP address rather than a name (nothing to resolve). */
export function isIpLiteral(host: string): boolean {
  return ipv4Octets(host) !== undefined || canonicalIpv6(host) !== undefined;
}

/**
 * The /32 or /128 a NetworkPolicy may allow for one resolved address, or why
 * not. Only a single address ever comes out: no name can widen it to a range.
 */
export function addressCidr(address: string): { cidr: string } | { problem: string } {
  const v4 = ipv4Octets(address);
  if (v4) {
    const [a, b] = v4;
    const special = a === 0
      ? "unspecified (0.0.0.0/8)"
      : a === 127
      ? "loopback"
      : a === 169 && b === 254
      ? "link-local (169.254.0.0/16, where cloud metadata services answer)"
      : a >= 224 && a <= 239
      ? "multicast"
      : a >= 240
      ? "reserved or broadcast"
      : undefined;
    return special ? { problem: `${address} is ${special}` } : { cidr: `${v4.join(".")}/32` };
  }
  const v6 = canonicalIpv6(address);
  if (v6 === undefined) return { problem: `"${address}" is not an IP address` };
  const first = parseInt(v6.split(":")[0] || "0", 16);
  const special = v6 === "::"
    ? "unspecified"
    : v6 === "::1"
    ? "loopback"
    : (first & 0xffc0) === 0xfe80
    ? "link-local (fe80::/10)"
    : (first & 0xff00) === 0xff00
    ? "multicast"
    : v6.startsWith("::ffff:") || /^::[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(v6)
    ? "an IPv4-mapped or -compatible address (write the IPv4 address)"
    : undefined;
  return special ? { problem: `${address} is ${special}` } : { cidr: `${v6}/128` };
}

/**
 * The name of a Task's Git egress NetworkPolicy: its Job's name (unique per Task, 63 characters at
 * most) under a prefix no Agent's policy (`kubetask-egress-<agent>`) can share, whatever the
 * Task and Agent are called.
 */
export function taskGitPolicyName(taskName: string): string {
  return `kubetask-git-${jobNameFor(taskName)}`;
}

/** A repository of the Task, and what to call it in a message. */
export interface GitRepositoryRef {
  /** e.g. `Context "repo"` or `Context "shared/repo"`. */
  source: string;
  repository: string;
}

export interface TaskGitEgress {
  /** The Task's NetworkPolicy; absent when no destination could be allowed. */
  policy?: KubeObject;
  /** "host:port -> cidr", in order. */
  allowed: string[];
  /** What was left out and why, each naming the Context. */
  problems: string[];
}

/**
 * The NetworkPolicy that lets the pod of Task `task` (only) reach its
 * repositories, from the resolutions made for their hosts (`resolved`, by host
 * name; IP literals need none).
 */
export function planTaskGitEgress(
  task: { name: string; namespace: string; uid: string },
  agentUid: string,
  repositories: GitRepositoryRef[],
  resolved: ReadonlyMap<string, Resolution>,
): TaskGitEgress {
  const allowed: string[] = [];
  const problems: string[] = [];
  const rules: KubeObject[] = [];
  const seen = new Set<string>();
  for (const { source, repository } of repositories) {
    const dest = gitDestination(repository);
    if (!dest) {
      problems.push(`${source}: git.repository is not an https:// or ssh:// URL with a host`);
      continue;
    }
    const key = `${dest.host}:${dest.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const resolution: Resolution = isIpLiteral(dest.host)
      ? { addresses: [dest.host] }
      : resolved.get(dest.host) ?? { error: "not resolved" };
    if ("error" in resolution) {
      problems.push(`${source}: host "${dest.host}" did not resolve (${resolution.error})`);
      continue;
    }
    const cidrs: string[] = [];
    for (const address of resolution.addresses) {
      const c = addressCidr(address);
      if ("problem" in c) problems.push(`${source}: host "${dest.host}" left out: ${c.problem}`);
      else if (!cidrs.includes(c.cidr)) cidrs.push(c.cidr);
    }
    cidrs.sort();
    if (cidrs.length > MAX_ADDRESSES_PER_HOST) {
      problems.push(
        `${source}: host "${dest.host}" has ${cidrs.length} addresses; only the first ` +
          `${MAX_ADDRESSES_PER_HOST} are allowed`,
      );
      cidrs.length = MAX_ADDRESSES_PER_HOST;
    }
    if (cidrs.length === 0) {
      if (resolution.addresses.length === 0) {
        problems.push(`${source}: host "${dest.host}" has no address`);
      }
      continue;
    }
    for (const cidr of cidrs) allowed.push(`${key} -> ${cidr}`);
    rules.push({
      to: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
      ports: [{ protocol: "TCP", port: dest.port }],
    });
  }
  if (rules.length === 0 || !task.uid || !agentUid) return { allowed, problems };
  const policy: KubeObject = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: taskGitPolicyName(task.name),
      namespace: task.namespace,
      labels: { ...MANAGED_BY },
    },
    spec: {
      podSelector: { matchLabels: { [AGENT_UID_LABEL]: agentUid, [TASK_UID_LABEL]: task.uid } },
      policyTypes: ["Egress"],
      egress: rules,
    },
  };
  return { policy, allowed, problems };
}

/** What the Task's status.egress.git says of its plan, at `now` (the resolution time). */
export function taskGitEgressStatus(
  plan: TaskGitEgress,
  resolvedAt: string,
): { networkPolicy?: string; allowed?: string[]; message: string } {
  const name = plan.policy?.metadata?.name;
  const parts = [
    name
      ? `NetworkPolicy "${name}" lets this Task's pod alone reach its Git contexts' hosts, ` +
        `resolved at ${resolvedAt}; an address a host takes later is not followed`
      : "no Git context host could be allowed: the clone cannot connect",
    ...plan.problems,
  ];
  return {
    ...(name ? { networkPolicy: name } : {}),
    ...(plan.allowed.length ? { allowed: plan.allowed } : {}),
    message: parts.join("; ").slice(0, 4096),
  };
}

function isSingleAddress(peer: KubeObject): boolean {
  const keys = Object.keys(peer);
  const block = peer.ipBlock as { cidr?: string; except?: unknown[] } | undefined;
  return keys.length === 1 && keys[0] === "ipBlock" && !block?.except?.length &&
    /^[0-9a-f.:]+\/(32|128)$/.test(block?.cidr ?? "") &&
    (block!.cidr!.includes(":") ? block!.cidr!.endsWith("/128") : block!.cidr!.endsWith("/32"));
}

/**
 * Whether `policy` has the shape of a Task's Git egress policy: controlled by
 * a Task, selecting that Task's uid, allowing only single addresses on one TCP
 * port each. Such a policy re-opens nothing beyond its own pod's repositories,
 * so the Agent's additive-trap check passes it over. Anyone allowed to write
 * NetworkPolicies could shape one like it, but could then open far more.
 */
export function isTaskGitPolicy(policy: KubeObject): boolean {
  const owner = (policy.metadata?.ownerReferences ?? []).find((o) => o.controller);
  if (!owner || owner.kind !== "Task" || !owner.apiVersion?.startsWith("kubetask.io/")) {
    return false;
  }
  const selector = policy.spec?.podSelector as KubeObject | undefined;
  const labels = selector?.matchLabels as Record<string, string> | undefined;
  if (!labels || labels[TASK_UID_LABEL] !== owner.uid || !labels[AGENT_UID_LABEL]) return false;
  if ((selector?.matchExpressions as unknown[] | undefined)?.length) return false;
  const types = policy.spec?.policyTypes as string[] | undefined;
  if (types?.length !== 1 || types[0] !== "Egress") return false;
  const rules = (policy.spec?.egress ?? []) as KubeObject[];
  return rules.every((r) => {
    const to = (r.to ?? []) as KubeObject[];
    const ports = (r.ports ?? []) as KubeObject[];
    return to.length > 0 && to.every(isSingleAddress) && ports.length === 1 &&
      ports[0].protocol === "TCP" && typeof ports[0].port === "number" &&
      ports[0].endPort === undefined;
  });
}
