// Whether this machine can run a real node, and the Debian packages it needs.
// A real kubelet needs root (containerd, mounts, network namespaces); without
// it the real-node tier is skipped with the reason, never faked.

/** Debian package → a file it installs that the node uses. */
const PACKAGES: Record<string, string> = {
  containerd: "/usr/bin/containerd",
  runc: "/usr/sbin/runc",
  "containernetworking-plugins": "/usr/lib/cni/bridge",
  "busybox-static": "/bin/busybox",
};

export const CNI_BIN_DIR = "/usr/lib/cni";

const present = (path: string) => Deno.stat(path).then(() => true, () => false);

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
  const missing: string[] = [];
  for (const [pkg, file] of Object.entries(PACKAGES)) if (!(await present(file))) missing.push(pkg);
  if (missing.length === 0) return undefined;
  console.error(
    `[cluster] installing ${missing.join(", ")} from Debian's packages for the real node`,
  );
  // Package lists may be missing or stale on a fresh machine: refresh once and retry.
  let failure = await aptGet(["install", "-y", "--no-install-recommends", ...missing]);
  if (failure) {
    await aptGet(["update"]);
    failure = await aptGet(["install", "-y", "--no-install-recommends", ...missing]);
  }
  if (failure) return `could not install ${missing.join(", ")} with apt-get: ${failure}`;
  for (const [pkg, file] of Object.entries(PACKAGES)) {
    if (!(await present(file))) return `${pkg} is installed but ${file} is missing`;
  }
  return undefined;
}

/** Runs apt-get; returns the last line of its errors when it fails. */
async function aptGet(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    return new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? `exit ${out.code}`;
  } catch (err) {
    return String(err);
  }
}
