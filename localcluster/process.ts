// Processes of the local cluster: started as our children in their own
// session with a capped log, dying with us, watched by PID, stopped only while
// the PID is still theirs, and the kubectl calls the scripts make.
import { join } from "node:path";
import { pipeToCappedLog } from "./capped_log.ts";

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
  // Our own children: their logs are flushed and their exit collected before we return.
  const pending = ours.map((p) => children.get(p.pid)).filter((d) => d !== undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(pending),
    new Promise((r) => timer = setTimeout(r, 2_000)),
  ]);
  clearTimeout(timer);
}

/**
 * Started here and still piped to their logs, by PID: stopProcesses() waits
 * for the copying to end, so nothing of a stopped child is left pending.
 */
const children = new Map<number, Promise<unknown>>();

/**
 * Starts a process in its own session (a Ctrl-C in the terminal reaches only
 * us; we stop it in order) with its output piped to a capped log
 * (capped_log.ts). It is this process's child and gets SIGKILL from the
 * kernel when this process dies, even by SIGKILL: `setpriv --pdeathsig`
 * sets the parent-death signal, which survives the exec. The kernel sends it
 * when the thread that spawned the child ends: Deno spawns on the JavaScript
 * thread, which lives as long as the program (a test checks it).
 */
export async function startProcess(
  name: string,
  dir: string,
  binary: string,
  args: string[],
  options: { seen?: OutputWatch } = {},
): Promise<StartedProcess> {
  const log = join(dir, "logs", `${name}.log`);
  const child = new Deno.Command("setpriv", {
    args: ["--pdeathsig", "KILL", "--", binary, ...args],
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pid = child.pid;
  const copied = pipeToCappedLog(log, [child.stdout, child.stderr], options.seen?.onText);
  children.set(pid, Promise.all([copied, child.status]).finally(() => children.delete(pid)));
  // `setpriv` execs the binary in the same PID: wait for it, so isOurs() knows it from now on.
  const deadline = Date.now() + 5_000;
  let started: StartedProcess = { pid, argv: [binary, ...args] };
  while (!isOurs(started) && isAlive(pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  started = { ...started, started: startStamp(pid) };
  return started;
}

/** Resolves `seen` once a process's output has contained `text` (pass it to startProcess). */
export class OutputWatch {
  readonly seen: Promise<void>;
  readonly onText: (text: string) => void;

  constructor(text: string) {
    let resolve = () => {};
    this.seen = new Promise((r) => resolve = r);
    let tail = "";
    let found = false;
    this.onText = (chunk) => {
      if (found) return;
      // A line may be split between chunks: keep enough of the previous one.
      const window = tail + chunk;
      if (window.includes(text)) {
        found = true;
        resolve();
      }
      tail = window.slice(-text.length);
    };
  }
}

/** This process, as a StartedProcess (a cluster records its owner so). */
export function thisProcess(): StartedProcess {
  return { pid: Deno.pid, argv: commandLine(Deno.pid) ?? [], started: startStamp(Deno.pid) };
}

/** Every process startProcess() started that still runs. */
export function ownChildren(): number[] {
  return [...children.keys()];
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
  return await runCommand(state.kubectl, ["--kubeconfig", state.kubeconfig, ...args], {
    stdin,
    describe: `kubectl ${args.join(" ")}`,
  });
}

/**
 * Runs `cmd` to its end and returns its stdout; a non-zero exit throws with
 * `describe` (by default the command line) and its stderr.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: { stdin?: string; describe?: string } = {},
): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    const what = opts.describe ?? `${cmd} ${args.join(" ")}`;
    throw new Error(`${what}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
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
