// The operator under measurement: main.ts as a subprocess (as it runs in
// production, with its V8 flags), its memory from /proc and its /metrics.
import { fileURLToPath } from "node:url";
import { RUNTIME_V8_FLAGS } from "../../../deploy/compile.ts";
import { parsePrometheus, type Sample, sumOf } from "./prometheus.ts";

const MAIN = fileURLToPath(new URL("../../../main.ts", import.meta.url));

/**
 * The operator's V8 flags: the shipped ones, or KUBETASK_BENCH_V8_FLAGS (one
 * `--v8-flags=...` argument) to measure others.
 */
function v8Flags(): string[] {
  const other = Deno.env.get("KUBETASK_BENCH_V8_FLAGS");
  return other ? [other] : [...RUNTIME_V8_FLAGS];
}

export interface Memory {
  rssMiB: number;
  peakMiB: number;
  anonMiB: number;
  fileMiB: number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export class OperatorProcess {
  readonly startedAt = performance.now();
  private readonly child: Deno.ChildProcess;
  private readonly port = freePort();
  private readonly done: Promise<Deno.CommandStatus>;

  /** `namespaces`: one namespace or a comma-separated list. `env`: added to the operator's. */
  constructor(
    kubeconfig: string,
    namespaces: string,
    extraArgs: string[] = [],
    env: Record<string, string> = {},
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...v8Flags(),
        MAIN,
        `--kubeconfig=${kubeconfig}`,
        `--namespaces=${namespaces}`,
        "--leader-elect=false",
        `--metrics-addr=127.0.0.1:${this.port}`,
        "--metrics-secure=false", // plain HTTP on loopback: the benchmark reads its counters
        "--log-level=warn",
        ...extraArgs,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
      env,
    }).spawn();
    this.done = this.child.status;
  }

  memory(): Memory {
    const status = Deno.readTextFileSync(`/proc/${this.child.pid}/status`);
    const kib = (field: string) =>
      Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
    const mib = (field: string) => Math.round((kib(field) / 1024) * 10) / 10;
    return {
      rssMiB: mib("VmRSS"),
      peakMiB: mib("VmHWM"),
      anonMiB: mib("RssAnon"),
      fileMiB: mib("RssFile"),
    };
  }

  async metrics(): Promise<Sample[]> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    return parsePrometheus(await res.text());
  }

  /** Resolves once /readyz says the caches have synced. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${this.port}/readyz`)
        .then(async (r) => (await r.body?.cancel(), r.ok), () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("operator not ready in time");
  }

  /** Seconds from spawn until the queue is empty after at least `keys` reconciles. */
  async drained(keys: number, timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = await this.metrics().catch(() => []);
      const reconciled = sumOf(m, "kubetask_reconcile_duration_seconds_count");
      if (reconciled >= keys && sumOf(m, "kubetask_workqueue_depth") === 0) {
        return (performance.now() - this.startedAt) / 1000;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`queue not drained after ${timeoutMs} ms`);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Resolves when the process has exited, however it ended. */
  exited(): Promise<Deno.CommandStatus> {
    return this.done;
  }

  /** SIGKILL, as the OOM killer or a node failure would: no shutdown code runs. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.done;
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 30_000);
    await this.done;
    clearTimeout(timer);
  }
}
