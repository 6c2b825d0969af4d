// A CronTask under test: its own namespace, the CronTask controller running
// in-process (no Task controller, so Tasks stay as created until a test sets
// their status), and a clock the test moves by hand.
import { cronTaskController } from "../../../controllers/crontask/controller.ts";
import { createLogger } from "../../../controllers/runtime/log.ts";
import { type RunningManager, startManager } from "../../../controllers/runtime/manager.ts";
import { installCrds } from "../api/crds.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";

const HOUR_MS = 3_600_000;

// deno-lint-ignore no-explicit-any
export type Json = any;

export class CronTaskHarness {
  /** What reconcilers see as now; starts at the real time, then only moves when told. */
  clock: Date;
  /** The first hourly schedule time; comfortably after the CronTask's creationTimestamp. */
  readonly firstRun: Date;
  /** Minute past the hour the schedule fires at. */
  readonly minute: number;
  private manager?: RunningManager;
  private pokes = 0;

  private constructor(
    readonly ns: string,
    readonly name: string,
    private cleanupNs: () => Promise<void>,
    /** Further namespaces the manager watches (for objects elsewhere that name ours). */
    private readonly alsoWatch: string[] = [],
  ) {
    // An hourly schedule whose first run is ~30 minutes away, so no run falls
    // between the CronTask's (real) creation and the first advanceTo.
    const now = Date.now();
    this.clock = new Date(now);
    this.minute = (new Date(now).getUTCMinutes() + 30) % 60;
    const thisHour = Math.floor(now / HOUR_MS) * HOUR_MS + this.minute * 60_000;
    this.firstRun = new Date(thisHour > now ? thisHour : thisHour + HOUR_MS);
  }

  /** Creates the namespace, starts the controller and creates an hourly CronTask with `spec` merged in. */
  static async start(
    spec: Record<string, unknown> = {},
    alsoWatch: string[] = [],
  ): Promise<CronTaskHarness> {
    await installCrds();
    const ns = await testNamespace("crontask");
    const h = new CronTaskHarness(ns.name, "report", ns.cleanup, alsoWatch);
    await h.startManager();
    const body = {
      apiVersion: "kubetask.io/v1alpha1",
      kind: "CronTask",
      metadata: { name: h.name, namespace: h.ns },
      spec: {
        schedule: `${h.minute} * * * *`,
        taskTemplate: {
          metadata: { labels: { team: "qa" } },
          spec: { description: "write the report" },
        },
        ...spec,
      },
    };
    await kubectl(["create", "-f", "-"], JSON.stringify(body));
    await h.reconciled();
    return h;
  }

  async startManager(): Promise<void> {
    this.manager = await startManager({
      controllers: [cronTaskController],
      namespaces: [this.ns, ...this.alsoWatch],
      leaderElection: false,
      metricsAddr: false,
      now: () => this.clock,
      // KUBETASK_TEST_LOG=1 shows the controller's logs when a test misbehaves.
      logger: Deno.env.get("KUBETASK_TEST_LOG") ? createLogger({ level: "debug" }) : undefined,
    });
    await this.manager.ready;
  }

  async stopManager(): Promise<void> {
    const manager = this.manager;
    this.manager = undefined;
    if (!manager) return;
    // Workers stop first, so reconciling has ended once stop() gets going;
    // don't let a slow informer shutdown hold the test hostage.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, 5_000));
    await Promise.race([manager.stop(), grace]);
    clearTimeout(timer);
  }

  async cleanup(): Promise<void> {
    await this.stopManager();
    await this.cleanupNs();
  }

  /** Unix seconds of the n-th hourly run (0 = firstRun): the suffix of its Task's name. */
  runSeconds(n: number): number {
    return (this.firstRun.getTime() + n * HOUR_MS) / 1000;
  }

  taskName(n: number): string {
    return `${this.name}-${this.runSeconds(n)}`;
  }

  /** Moves the clock to just after the n-th run and waits until the controller has seen it. */
  async advanceTo(n: number): Promise<void> {
    this.clock = new Date(this.firstRun.getTime() + n * HOUR_MS + 30_000);
    await this.poke();
  }

  /**
   * Wakes the controller with a spec change (bumps generation) and waits for
   * status.observedGeneration to catch up: proof a reconcile ran at the
   * current clock, so "nothing was created" can be asserted without sleeping.
   */
  async poke(): Promise<void> {
    this.pokes++;
    const patch = {
      spec: {
        taskTemplate: { metadata: { annotations: { "test.kubetask.io/poke": `${this.pokes}` } } },
      },
    };
    await this.patch(patch);
    await this.reconciled();
  }

  async patch(patch: unknown): Promise<void> {
    await kubectl([
      "patch",
      "crontask",
      this.name,
      "-n",
      this.ns,
      "--type=merge",
      "-p",
      JSON.stringify(patch),
    ]);
  }

  /** Waits until status reflects the current generation. */
  async reconciled(): Promise<Json> {
    return await eventually("CronTask reconciled", async () => {
      const ct = await this.cronTask();
      return ct.status?.observedGeneration === ct.metadata.generation ? ct : undefined;
    });
  }

  async cronTask(): Promise<Json> {
    return JSON.parse(await kubectl(["get", "crontask", this.name, "-n", this.ns, "-o", "json"]));
  }

  /** Names of the Tasks in the namespace, sorted. */
  async tasks(): Promise<Json[]> {
    const list = JSON.parse(await kubectl(["get", "tasks", "-n", this.ns, "-o", "json"]));
    return (list.items as Json[]).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  async taskNames(): Promise<string[]> {
    return (await this.tasks()).filter((t) => !t.metadata.deletionTimestamp).map((t) =>
      t.metadata.name
    );
  }

  /** Waits until exactly these Tasks exist. */
  async waitForTasks(names: string[]): Promise<void> {
    const want = [...names].sort().join(",");
    await eventually(`Tasks [${want}]`, async () => (await this.taskNames()).join(",") === want);
  }

  /** Sets a Task's phase through the status subresource, as the Task controller would. */
  async setTaskPhase(name: string, phase: "Running" | "Completed" | "Failed"): Promise<void> {
    const status: Record<string, string> = { phase };
    if (phase !== "Running") {
      status.completionTime = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    }
    await kubectl([
      "patch",
      "task",
      name,
      "-n",
      this.ns,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    ]);
  }

  async scheduledCondition(): Promise<Json> {
    const ct = await this.cronTask();
    return (ct.status?.conditions ?? []).find((c: Json) => c.type === "Scheduled");
  }
}

/** Runs `body` against a fresh harness and always cleans up. */
export async function withCronTask(
  spec: Record<string, unknown>,
  body: (h: CronTaskHarness) => Promise<void>,
  alsoWatch: string[] = [],
): Promise<void> {
  const h = await CronTaskHarness.start(spec, alsoWatch);
  try {
    await body(h);
  } finally {
    await h.cleanup();
  }
}
