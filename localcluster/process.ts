// Processes of the local cluster: started detached with a log file, watched
// by PID, and the kubectl calls the scripts make.
import { join } from "node:path";

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts a process in its own session with output to a log file; returns its PID. */
export async function startProcess(
  name: string,
  dir: string,
  binary: string,
  args: string[],
): Promise<number> {
  const log = join(dir, "logs", `${name}.log`);
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; setsid "$@" >"$log" 2>&1 </dev/null & echo $!',
      "sh",
      log,
      binary,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`could not start ${name}`);
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped by whoever adopted it) is not running.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  pid?: number,
  log?: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (pid !== undefined && !isAlive(pid)) {
      const tail = log
        ? (await Deno.readTextFile(log).catch(() => "")).split("\n").slice(-20).join("\n")
        : "";
      throw new Error(`${what}: process exited\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

export async function kubectl(
  state: { kubectl: string; kubeconfig: string },
  args: string[],
  stdin?: string,
) {
  const child = new Deno.Command(state.kubectl, {
    args: ["--kubeconfig", state.kubeconfig, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** PIDs (other than this one) whose command line, arguments joined by spaces, contains `text`. */
export async function pidsMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.replaceAll("\0", " ").includes(text)) found.push(Number(entry.name));
  }
  return found;
}
