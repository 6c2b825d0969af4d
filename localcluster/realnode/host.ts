// Whether this machine can run a real node, and the Debian packages it needs.
// A real kubelet needs root (containerd, mounts, network namespaces); without
// it the real-node tier is skipped with the reason, never faked.
//
// The machine is someone's: what it already has is used as it is (a Docker
// install's containerd and runc, anywhere on PATH), and apt-get only ever adds
// packages. An install that would remove or upgrade an installed package is
// refused, and the reason says which.
import { delimiter, join } from "node:path";
import { exists } from "../files.ts";

/** What the node uses from each Debian package: a command found on PATH, or a fixed file. */
const NEEDS: Record<string, { command: string } | { file: string }> = {
  containerd: { command: "containerd" },
  runc: { command: "runc" },
  "containernetworking-plugins": { file: "/usr/lib/cni/bridge" },
  "busybox-static": { file: "/bin/busybox" },
  // The bridge plugin's masquerade and the NetworkPolicy engine's diversion are iptables rules.
  iptables: { command: "iptables" },
};

export const CNI_BIN_DIR = "/usr/lib/cni";

/** Where `command -v NAME` would find an executable, searching `path` (PATH's format). */
export async function commandOnPath(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    const info = await Deno.stat(candidate).catch(() => undefined);
    if (info?.isFile && ((info.mode ?? 0) & 0o111) !== 0) return candidate;
  }
  return undefined;
}

/** The packages whose command or file this machine lacks. */
export async function missingPackages(path = Deno.env.get("PATH") ?? ""): Promise<string[]> {
  const missing: string[] = [];
  for (const [pkg, need] of Object.entries(NEEDS)) {
    const found = "command" in need
      ? await commandOnPath(need.command, path) !== undefined
      : await exists(need.file);
    if (!found) missing.push(pkg);
  }
  return missing;
}

/** apt-get's arguments to add `packages`: never removing one (`--no-remove`), nothing extra. */
export function aptInstallArgs(packages: string[], simulate = false): string[] {
  return [
    "install",
    ...(simulate ? ["--simulate"] : ["-y"]),
    "--no-remove",
    "--no-install-recommends",
    ...packages,
  ];
}

/**
 * Installed packages an apt-get simulation would remove or replace by another
 * version ("Remv NAME [VERSION]", "Inst NAME [OLD VERSION] (NEW ...)"): those
 * the machine may rely on.
 */
export function packagesTouched(simulation: string): string[] {
  const touched: string[] = [];
  for (const line of simulation.split("\n")) {
    const m = line.match(/^(Remv|Inst) (\S+) \[/);
    if (m) touched.push(m[2]);
  }
  return touched;
}

let checked: Promise<string | undefined> | undefined;

/** Why this machine cannot run a real node, or undefined when it can (installs what is missing). */
export function realNodeUnavailable(): Promise<string | undefined> {
  checked ??= check();
  return checked;
}

async function check(): Promise<string | undefined> {
  if (Deno.env.get("KUBETASK_REAL_NODE") === "0") return "disabled by KUBETASK_REAL_NODE=0";
  if (Deno.uid() !== 0) {
    return "not running as root: a real kubelet needs root for containerd, mounts and network namespaces";
  }
  const missing = await missingPackages();
  if (missing.length === 0) return undefined;
  console.error(
    `[cluster] installing ${missing.join(", ")} from Debian's packages for the real node`,
  );
  // Package lists may be missing or stale on a fresh machine: refresh once and retry.
  let plan = await aptGet(aptInstallArgs(missing, true));
  if (plan.failure) {
    await aptGet(["update"]);
    plan = await aptGet(aptInstallArgs(missing, true));
  }
  if (plan.failure) return `could not install ${missing.join(", ")} with apt-get: ${plan.failure}`;
  const touched = packagesTouched(plan.stdout);
  if (touched.length) {
    return `installing ${missing.join(", ")} would remove or replace installed packages ` +
      `(${touched.join(", ")}); install what the node needs by hand`;
  }
  const { failure } = await aptGet(aptInstallArgs(missing));
  if (failure) return `could not install ${missing.join(", ")} with apt-get: ${failure}`;
  const still = await missingPackages();
  if (still.length) return `${still.join(", ")} installed but not found (PATH or file)`;
  return undefined;
}

/** Runs apt-get; its output, and the last line of its errors when it fails. */
async function aptGet(args: string[]): Promise<{ stdout: string; failure?: string }> {
  try {
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (out.success) return { stdout };
    const failure = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
    return { stdout, failure: failure || `exit ${out.code}` };
  } catch (err) {
    return { stdout: "", failure: String(err) };
  }
}
