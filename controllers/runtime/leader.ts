// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// operator replicas only one runs reconcilers at a time.
//
// Writes use optimistic concurrency (the merge patch carries the observed
// resourceVersion, so a concurrent writer gets 409 Conflict). Expiry is judged
// by the local time at which we last saw the record change, not by the
// holder's timestamps, so clock skew between replicas does not matter.
import { processIdentity } from "./identity.ts";
import { LeaseResource } from "./resources.ts";
import { AlreadyExistsError, type KubeClient, type KubeObject, type Logger } from "./types.ts";
import { sleepUnless } from "./sleep.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** Unique per process; defaults to hostname plus a random suffix. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Where time comes from; the real clock unless a test drives it by hand. */
  clock?: ElectionClock;
}

/** The elector's time: when it is, and the wait between attempts. */
export interface ElectionClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** How long a record lasts unrenewed, how long the holder keeps trying to renew, how often anyone tries. */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

const REAL_CLOCK: ElectionClock = { now: () => Date.now(), sleep: sleepUnless };

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: ElectionClock;
  private observed: { record: string; at: number } | undefined;
  private lease: KubeObject | undefined;
  private leading = false;
  private stopped = false;
  /** Aborted by stop(): ends the wait between attempts. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.identity = opts.identity ?? `${processIdentity()}_${crypto.randomUUID().slice(0, 8)}`;
    this.leaseDurationMs = opts.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = opts.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.clock = opts.clock ?? REAL_CLOCK;
    if (
      this.renewDeadlineMs >= this.leaseDurationMs || this.retryPeriodMs >= this.renewDeadlineMs
    ) {
      throw new Error("leader election needs retryPeriod < renewDeadline < leaseDuration");
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Blocks until leadership is acquired (resolves true) or stop() is called
   * (resolves false).
   */
  async acquire(): Promise<boolean> {
    while (!this.stopped) {
      if (await this.attempt()) {
        this.leading = true;
        this.log.info("acquired leader lease", {
          lease: this.leaseName(),
          identity: this.identity,
        });
        return true;
      }
      await this.clock.sleep(this.retryPeriodMs, this.stopping.signal);
    }
    return false;
  }

  /**
   * Renews every retry period while leading. Resolves "lost" when renewal
   * failed for longer than the renew deadline (or another holder took over),
   * or "stopped" after stop().
   */
  async holdLease(): Promise<"lost" | "stopped"> {
    // The renewTime we write is taken when an attempt starts, so the deadline
    // counts from there; each attempt may only use what is left of it. That
    // way we stop leading before renewDeadline passes, well inside the lease
    // duration another replica waits for: two leaders never overlap.
    let lastRenew = this.clock.now();
    while (!this.stopped) {
      await this.clock.sleep(this.retryPeriodMs, this.stopping.signal);
      if (this.stopped) break;
      const started = this.clock.now();
      const budget = this.renewDeadlineMs - (started - lastRenew);
      if (budget > 0 && await this.attempt(budget)) {
        lastRenew = started;
        continue;
      }
      const holder = (this.lease?.spec as LeaseSpec | undefined)?.holderIdentity;
      if (
        (holder && holder !== this.identity) || this.clock.now() - lastRenew >= this.renewDeadlineMs
      ) {
        this.leading = false;
        this.log.error("lost leader lease", {
          lease: this.leaseName(),
          identity: this.identity,
          holder,
        });
        return "lost";
      }
    }
    return "stopped";
  }

  /** Stops acquire/holdLease loops (does not release; see release()). */
  stop(): void {
    this.stopped = true;
    this.stopping.abort();
  }

  /** Gives the lease up so another replica can take over at once. */
  async release(): Promise<void> {
    if (!this.leading || !this.lease) return;
    this.leading = false;
    const now = microTime(new Date(this.clock.now()));
    try {
      await withTimeout(
        this.client.patch(LeaseResource, this.opts.namespace, this.opts.name, {
          metadata: { resourceVersion: this.lease.metadata?.resourceVersion },
          spec: { holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
        }),
        this.renewDeadlineMs,
      );
      this.log.info("released leader lease", { lease: this.leaseName() });
    } catch (err) {
      this.log.warn("could not release leader lease", { lease: this.leaseName(), error: err });
    }
  }

  private leaseName(): string {
    return `${this.opts.namespace}/${this.opts.name}`;
  }

  /** One try to acquire or renew; true if we hold the lease afterwards. */
  private async attempt(timeoutMs = this.renewDeadlineMs): Promise<boolean> {
    try {
      return await withTimeout(this.tryAcquireOrRenew(), timeoutMs);
    } catch (err) {
      this.log.warn("leader election attempt failed", { lease: this.leaseName(), error: err });
      return false;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name } = this.opts;
    const now = new Date(this.clock.now());
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    const current = await this.client.get(LeaseResource, namespace, name);
    if (!current) {
      try {
        this.lease = await this.client.create(LeaseResource, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        this.observe(this.lease, now);
        return true;
      } catch (err) {
        if (err instanceof AlreadyExistsError) return false;
        throw err;
      }
    }
    this.lease = current;
    const spec = (current.spec ?? {}) as LeaseSpec;
    this.observe(current, now);
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== this.identity;
    const theirDurationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.observed!.at + theirDurationMs > now.getTime()) return false;

    const takingOver = spec.holderIdentity !== this.identity;
    const patch: { metadata: unknown; spec: LeaseSpec } = {
      metadata: { resourceVersion: current.metadata?.resourceVersion },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(now),
      },
    };
    if (takingOver) {
      patch.spec.acquireTime = microTime(now);
      patch.spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
    }
    // A 409 Conflict (someone else wrote first) propagates and counts as a failed attempt.
    this.lease = await this.client.patch(LeaseResource, namespace, name, patch);
    this.observe(this.lease, now);
    return true;
  }

  private observe(lease: KubeObject, now: Date): void {
    const spec = (lease.spec ?? {}) as LeaseSpec;
    const record = `${spec.holderIdentity}|${spec.renewTime}|${spec.leaseDurationSeconds}`;
    if (this.observed?.record !== record) this.observed = { record, at: now.getTime() };
  }
}
