// The operator replicas of a scenario, as Kubernetes would keep them: a
// replica that dies (SIGKILL by a fault, or its own exit after losing the
// Lease) is started again after a second, like a Deployment's pod. Peak memory
// is read from /proc while each process lives, since a killed one takes its
// figures with it.
import { OperatorProcess } from "../bench/e2e/operator_process.ts";
import { sumOf } from "../bench/e2e/prometheus.ts";
import { NAMESPACES } from "./workload.ts";

export const LEASE_NAMESPACE = "default";
const RESTART_DELAY_MS = 1000;

export class Operators {
  readonly replicas: OperatorProcess[] = [];
  private peakMiB = 0;
  private stopping = false;
  private readonly timer: ReturnType<typeof setInterval>;
  restarts = 0;

  constructor(
    private readonly kubeconfig: () => string,
    count: number,
    private readonly leaderElect = count > 1,
  ) {
    for (let i = 0; i < count; i++) this.replicas.push(this.spawn(i));
    this.timer = setInterval(() => this.sampleMemory(), 500);
  }

  private spawn(i: number): OperatorProcess {
    const op = new OperatorProcess(
      this.kubeconfig(),
      NAMESPACES.join(","),
      this.leaderElect
        ? ["--leader-elect=true", `--leader-election-namespace=${LEASE_NAMESPACE}`]
        : [],
      { POD_NAME: `replica-${i}` },
    );
    op.exited().then(() => {
      if (this.stopping || this.replicas[i] !== op) return;
      setTimeout(() => {
        if (this.stopping || this.replicas[i] !== op) return;
        this.restarts++;
        this.replicas[i] = this.spawn(i);
      }, RESTART_DELAY_MS);
    });
    return op;
  }

  private sampleMemory(): void {
    for (const op of this.replicas) {
      try {
        this.peakMiB = Math.max(this.peakMiB, op.memory().peakMiB);
      } catch { /* between death and restart */ }
    }
  }

  peakRssMiB(): number {
    this.sampleMemory();
    return this.peakMiB;
  }

  /** The replica whose /metrics says it leads (only used to pick whom to kill). */
  async leader(): Promise<OperatorProcess | undefined> {
    for (const op of this.replicas) {
      const m = await op.metrics().catch(() => []);
      if (sumOf(m, "kubetask_leader") === 1) return op;
    }
    return undefined;
  }

  /** SIGKILLs a replica (the leader, or the only one); it is restarted a second later. */
  async kill(op = this.replicas[0]): Promise<void> {
    this.sampleMemory();
    await op.kill();
  }

  /** Whether the queue of the replica that works (the leader) is empty. */
  async queueEmpty(): Promise<boolean> {
    for (const op of this.replicas) {
      const m = await op.metrics().catch(() => undefined);
      if (!m) continue;
      if (this.leaderElect && sumOf(m, "kubetask_leader") !== 1) continue;
      // A replica that has reconciled nothing yet has an empty queue only because it has not
      // started: that is not recovery.
      const reconciled = sumOf(m, "kubetask_reconcile_duration_seconds_count");
      if (reconciled > 0 && sumOf(m, "kubetask_workqueue_depth") === 0) return true;
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.sampleMemory();
    await Promise.all(this.replicas.map((op) => op.stop()));
  }
}
