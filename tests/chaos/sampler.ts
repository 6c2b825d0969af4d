// Watches Tasks and Jobs from the test's own (admin) client throughout a
// scenario and keeps what only sampling can see: the most unfinished Jobs an
// Agent with a limit had at once, and the most unfinished runs a Forbid or
// Replace CronTask had at once. Pure counting lives in invariants.ts.
import { Informer } from "../../controllers/runtime/informer.ts";
import { silentLogger } from "../../controllers/runtime/log.ts";
import { JobResource } from "../../controllers/runtime/resources.ts";
import { TaskResource } from "../../controllers/kinds.ts";
import type { ApiTransport } from "../../controllers/runtime/transport.ts";
import { concurrentRuns, settled, unfinishedJobsPerAgent } from "./invariants.ts";

export class Sampler {
  private readonly tasks: Informer;
  private readonly jobs: Informer;
  private timer?: ReturnType<typeof setInterval>;
  /** Most unfinished Jobs seen at once, per namespace/Agent. */
  readonly peakPerAgent = new Map<string, number>();
  /** Most unfinished runs seen at once, per namespace/CronTask. */
  readonly peakRuns = new Map<string, number>();
  samples = 0;

  constructor(transport: ApiTransport, namespaces: string[]) {
    const opts = { transport, namespaces, log: silentLogger };
    this.tasks = new Informer({ ...opts, type: TaskResource });
    this.jobs = new Informer({ ...opts, type: JobResource });
  }

  async start(everyMs = 250): Promise<void> {
    this.tasks.start();
    this.jobs.start();
    await Promise.all([this.tasks.synced, this.jobs.synced]);
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    const tasks = this.tasks.list();
    const jobs = this.jobs.list();
    this.samples++;
    raise(this.peakPerAgent, unfinishedJobsPerAgent(tasks, jobs));
    raise(this.peakRuns, concurrentRuns(tasks, jobs));
  }

  jobCount(): number {
    return this.jobs.size();
  }

  /** Every Task seen has its Job or is waiting in Queued (see invariants.ts settled). */
  settled(expectedTasks: number): boolean {
    const tasks = this.tasks.list();
    return tasks.length >= expectedTasks && settled(tasks, this.jobs.list());
  }

  /** Tasks seen in a phase, by phase. */
  phases(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.tasks.list()) {
      const phase = t.status?.phase ?? "none";
      out.set(phase, (out.get(phase) ?? 0) + 1);
    }
    return out;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.tasks.stop(), this.jobs.stop()]);
  }
}

function raise(peaks: Map<string, number>, now: Map<string, number>): void {
  for (const [k, v] of now) peaks.set(k, Math.max(peaks.get(k) ?? 0, v));
}
