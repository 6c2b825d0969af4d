// A Task controller under test: its own namespace with the agent
// ServiceAccount, and the manager running in-process scoped to it.
import { createLogger } from "../../../controllers/runtime/log.ts";
import type { CacheReader } from "../../../controllers/runtime/types.ts";
import { type RunningManager, startManager } from "../../../controllers/runtime/manager.ts";
import { createTaskController } from "../../../controllers/task/controller.ts";
import { createEgressController } from "../../../controllers/egress/controller.ts";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "../../../controllers/task/job.ts";
import type { KubeObject, ResourceType } from "../../../controllers/runtime/types.ts";
import { installCrds } from "../api/crds.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";

// deno-lint-ignore no-explicit-any
export type Json = any;

export const AGENT_SA = "agent-sa";

/** An operator already running (e.g. installed by the chart), not one the harness starts. */
export interface RunningOperator {
  /** A namespace it watches, for one harness; removed when the operator goes. */
  namespace(): Promise<string>;
}

export interface HarnessOptions {
  /**
   * Use this operator instead of starting the manager in-process; `egress` and
   * `settings` are then the install's, and `cache`, `metrics`, `cached` and
   * startManager are not available.
   */
  operator?: RunningOperator;
  /** Further namespaces the manager watches (for cross-namespace references). */
  alsoWatch?: string[];
  /** Runs the Agent egress controller too (its NetworkPolicies). */
  egress?: boolean;
  /** The controller's settings, given the test namespace's name. */
  settings?: (namespace: string) => JobSettings;
}

export class TaskHarness {
  private manager?: RunningManager;

  private constructor(
    readonly ns: string,
    private cleanupNs: () => Promise<void>,
    private readonly alsoWatch: string[],
    private readonly settings: JobSettings,
    private readonly egress = false,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<TaskHarness> {
    await installCrds();
    const ns = options.operator
      ? { name: await options.operator.namespace(), cleanup: () => Promise.resolve() }
      : await testNamespace("task");
    const settings = options.settings?.(ns.name) ?? DEFAULT_JOB_SETTINGS;
    const h = new TaskHarness(
      ns.name,
      ns.cleanup,
      options.alsoWatch ?? [],
      settings,
      options.egress ?? false,
    );
    await h.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: AGENT_SA } });
    if (!options.operator) await h.startManager();
    return h;
  }

  async startManager(): Promise<void> {
    this.manager = await startManager({
      controllers: [
        createTaskController(this.settings),
        ...(this.egress ? [createEgressController(this.settings)] : []),
      ],
      namespaces: [this.ns, ...this.alsoWatch],
      leaderElection: false,
      metricsAddr: "127.0.0.1:0",
      metricsSecure: false, // plain HTTP on loopback: the test reads its own metrics
      // KUBETASK_TEST_LOG=debug shows the operator's logs while debugging a test.
      ...(Deno.env.get("KUBETASK_TEST_LOG") ? { logger: createLogger({ level: "debug" }) } : {}),
    });
    await this.manager.ready;
  }

  /** The running manager's informer caches, as its reconcilers read them. */
  get cache(): CacheReader {
    return this.manager!.cache;
  }

  /** What the running manager serves on /metrics. */
  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.manager!.metricsAddr!.port}/metrics`);
    return await res.text();
  }

  /** The object as the running manager's cache holds it: what the operator knows. */
  cached(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return this.manager!.cache.get(type, namespace, name);
  }

  async stopManager(): Promise<void> {
    await this.manager?.stop();
    this.manager = undefined;
  }

  async cleanup(): Promise<void> {
    await this.stopManager();
    await this.cleanupNs();
  }

  /** Creates an object in the test namespace. */
  async apply(obj: Json): Promise<void> {
    const body = { ...obj, metadata: { ...obj.metadata, namespace: this.ns } };
    await kubectl(["create", "-f", "-"], JSON.stringify(body));
  }

  agent(name: string, spec: Json = {}): Promise<void> {
    return this.apply({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Agent",
      metadata: { name },
      spec: { agentImage: "example.test/agent:1", serviceAccountName: AGENT_SA, ...spec },
    });
  }

  task(name: string, spec: Json = {}): Promise<void> {
    return this.apply({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Task",
      metadata: { name },
      spec,
    });
  }

  context(name: string, spec: Json): Promise<void> {
    return this.apply({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Context",
      metadata: { name },
      spec,
    });
  }

  /** The object as JSON, or undefined when it does not exist. */
  async get(kind: string, name: string): Promise<Json | undefined> {
    const out = await kubectl([
      "get",
      kind,
      name,
      "-n",
      this.ns,
      "-o",
      "json",
      "--ignore-not-found",
    ]);
    return out.trim() ? JSON.parse(out) : undefined;
  }

  async list(kind: string): Promise<Json[]> {
    return JSON.parse(await kubectl(["get", kind, "-n", this.ns, "-o", "json"])).items;
  }

  /** Waits until the Task reaches `phase` and returns it. */
  waitForPhase(name: string, phase: string, timeoutMs = 60_000): Promise<Json> {
    return eventually(`Task ${name} phase ${phase}`, async () => {
      const task = await this.get("task", name);
      return task?.status?.phase === phase ? task : undefined;
    }, timeoutMs);
  }

  /** Events recorded about an object, as "type reason: message". */
  async eventsFor(name: string): Promise<string[]> {
    const events = await this.list("events");
    return events
      .filter((e: Json) => e.involvedObject?.name === name || e.regarding?.name === name)
      .map((e: Json) => `${e.type} ${e.reason}: ${e.message ?? e.note}`);
  }
}

export function condition(task: Json, type: string): Json | undefined {
  return task?.status?.conditions?.find((c: Json) => c.type === type);
}
