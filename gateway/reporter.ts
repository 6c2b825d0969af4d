// The batched usage reporter: every interval, each Task whose usage changed
// gets one write of its whole cumulative usage; a Task that went over its
// budget is written at once. Writes for one Task never overlap and never go
// backwards; a failed write is retried at the next interval.
import type { Logger } from "../controllers/runtime/types.ts";
import type { TaskEntry } from "./ledger.ts";
import type { NamespaceEntry, NamespaceLedger } from "./namespace_ledger.ts";
import type { SpendWriter, Usage, UsageWriter } from "./types.ts";

export interface UsageReporterOptions {
  writer: UsageWriter;
  intervalMs?: number;
  logger?: Logger;
}

interface Written {
  usage: Usage;
  exceeded?: string;
}

export class UsageReporter {
  private dirty = new Map<string, TaskEntry>();
  private writing = new Map<string, Promise<void>>();
  private written = new Map<string, Written>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly intervalMs: number;

  constructor(private readonly opts: UsageReporterOptions) {
    this.intervalMs = opts.intervalMs ?? 2000;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
  }

  /** Fed by the ledger: the Task's usage changed; urgent: write it now. */
  changed(entry: TaskEntry, urgent: boolean): void {
    this.dirty.set(entry.taskUid, entry);
    if (urgent) void this.flushOne(entry.taskUid);
  }

  /** Writes every changed Task once (waits for writes already running). */
  async flush(): Promise<void> {
    await Promise.all([...this.dirty.keys()].map((uid) => this.flushOne(uid)));
  }

  /** Drops what is kept of a Task whose usage is written (its Task is gone); false while a
   *  change is still to be written. */
  forget(taskUid: string): boolean {
    if (this.dirty.has(taskUid) || this.writing.has(taskUid)) return false;
    this.written.delete(taskUid);
    return true;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.writing.values()]);
    await this.flush();
  }

  private async flushOne(uid: string): Promise<void> {
    // One write at a time per Task: a change during a write is picked up by the next flush.
    const running = this.writing.get(uid);
    if (running) {
      await running;
      if (!this.dirty.has(uid)) return;
    }
    const entry = this.dirty.get(uid);
    if (!entry) return;
    this.dirty.delete(uid);
    const snapshot: Written = { usage: { ...entry.usage }, exceeded: entry.exceeded };
    const last = this.written.get(uid);
    if (last && !ahead(snapshot, last)) return;
    const write = (async () => {
      try {
        await this.opts.writer.write(
          entry.namespace,
          entry.task,
          entry.taskUid,
          snapshot.usage,
          snapshot.exceeded,
        );
        this.written.set(uid, snapshot);
      } catch (err) {
        this.opts.logger?.warn("usage write failed; retrying at the next interval", {
          namespace: entry.namespace,
          task: entry.task,
          error: err,
        });
        if (!this.dirty.has(uid)) this.dirty.set(uid, entry);
      } finally {
        this.writing.delete(uid);
      }
    })();
    this.writing.set(uid, write);
    await write;
  }
}

/** A snapshot is worth writing when no figure is below what was written and something grew. */
function ahead(next: Written, last: Written): boolean {
  const a = next.usage, b = last.usage;
  const keys = [
    "inputTokens",
    "outputTokens",
    "cacheReadTokens",
    "cacheWriteTokens",
    "costNanoUSD",
    "requests",
  ] as const;
  if (keys.some((k) => a[k] < b[k])) return false;
  return keys.some((k) => a[k] > b[k]) ||
    next.exceeded !== undefined && last.exceeded === undefined;
}

export interface SpendReporterOptions {
  writer: SpendWriter;
  ledger: NamespaceLedger;
  intervalMs?: number;
  logger?: Logger;
}

/**
 * The namespaces' spend, added to their NamespaceBudget status every interval
 * (one write at a time per namespace; what a failed write carried is pending
 * again and goes with the next one).
 */
export class SpendReporter {
  private dirty = new Set<NamespaceEntry>();
  private writing = new Map<NamespaceEntry, Promise<void>>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: SpendReporterOptions) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.opts.intervalMs ?? 2000);
  }

  changed(entry: NamespaceEntry): void {
    this.dirty.add(entry);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.dirty].map((e) => this.flushOne(e)));
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.writing.values()]);
    await this.flush();
  }

  private async flushOne(e: NamespaceEntry): Promise<void> {
    const running = this.writing.get(e);
    if (running) {
      await running;
      if (!this.dirty.has(e)) return;
    }
    if (!this.dirty.delete(e)) return;
    const { ledger, writer, logger } = this.opts;
    const taken = ledger.take(e);
    if (taken.length === 0) return;
    const write = (async () => {
      try {
        // No NamespaceBudget any more: nothing to count into; the spend is dropped.
        ledger.written(e, await writer.add(e.namespace, taken) ?? {});
      } catch (err) {
        logger?.warn("namespace spend write failed; retrying at the next interval", {
          namespace: e.namespace,
          error: err,
        });
        ledger.failed(e);
        this.dirty.add(e);
      } finally {
        this.writing.delete(e);
      }
    })();
    this.writing.set(e, write);
    await write;
  }
}
