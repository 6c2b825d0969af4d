// Processes of the local cluster: started detached with a log file, watched
// by PID, stopped only while the PID is still theirs, and the kubectl calls
// the scripts make.
import { join } from "node:path";

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A process this code started, told apart from whatever gets its PID later
 * (once it exited, or after a reboot: state.json outlives both).
 */
export interface StartedProcess {
  pid: number;
  /** The command line it runs. */
  argv: string[];
  /** This boot's id and the process's start time in clock ticks after boot (/proc/PID/stat). */
  started?: string;
}

/** The boot and start time of `pid`, or undefined when there is no such process. */
function startStamp(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start at field 3; start time is 22.
    const startTicks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3];
    const boot = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
    return `${boot}/${startTicks}`;
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string[] | undefined {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return raw.endsWith("\0") ? raw.slice(0, -1).split("\0") : raw.split("\0");
  } catch {
    return undefined;
  }
}

/** Whether `p` still runs: its PID is alive with the same start time and command line. */
export function isOurs(p: StartedProcess | undefined): boolean {
  if (!p?.pid || !isAlive(p.pid)) return false;
  if (p.started !== undefined && startStamp(p.pid) !== p.started) return false;
  const argv = commandLine(p.pid);
  return !!argv && argv.length === p.argv.length && argv.every((a, i) => a === p.argv[i]);
}

/**
 * SIGTERM to each process that is still ours, SIGKILL after `graceMs` to
 * those still running. A PID now used by another process is never signalled.
 */
export async function stopProcesses(processes: StartedProcess[], graceMs: number): Promise<void> {
  const ours = processes.filter(isOurs);
  const signal = (p: StartedProcess, sig: Deno.Signal) => {
    try {
      Deno.kill(p.pid, sig);
    } catch { /* already gone */ }
  };
  for (const p of ours) signal(p, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (ours.some(isOurs) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of ours.filter(isOurs)) signal(p, "SIGKILL");
}

/** Starts a process in its own session with output to a log file. */
export async function startProcess(
  name: string,
  dir: string,
  binary: string,
  args: string[],
): Promise<StartedProcess> {
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
  const started: StartedProcess = { pid, argv: [binary, ...args], started: startStamp(pid) };
  // `setsid` execs the binary in the same PID: wait for it, so isOurs() knows it from now on.
  const deadline = Date.now() + 5_000;
  while (!isOurs(started) && isAlive(pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return started;
}

/**
 * A process started through wrappers that exec it in the same PID (`unshare`,
 * `sh -c 'exec ...'`): once it runs `argv`, recorded as that, so isOurs() and
 * stopProcesses() know it as they know a process startProcess() started.
 */
export async function execedAs(
  first: StartedProcess,
  argv: string[],
  timeoutMs = 5_000,
): Promise<StartedProcess> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(first.pid) && Date.now() < deadline) {
    const now = commandLine(first.pid);
    if (now && now.length === argv.length && now.every((a, i) => a === argv[i])) {
      return { pid: first.pid, argv, started: startStamp(first.pid) };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${argv[0]} did not start (pid ${first.pid})`);
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

/** Processes (other than this one) whose command line, arguments joined by spaces, contains `text`. */
export async function processesMentioning(text: string): Promise<StartedProcess[]> {
  const found: StartedProcess[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!/^\d+$/.test(entry.name) || pid === Deno.pid) continue;
    const started = startStamp(pid);
    const argv = commandLine(pid);
    if (started && argv?.join(" ").includes(text)) found.push({ pid, argv, started });
  }
  return found;
}
