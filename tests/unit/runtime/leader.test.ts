// The leader elector against an in-memory Lease API, each elector with a clock
// the test moves by hand: acquiring, renewing, losing and expiry are decided
// by what the test does, never by real time passing.
import assert from "assert";
import { type ElectionClock, LeaderElector } from "../../../controllers/runtime/leader.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import {
  AlreadyExistsError,
  ConflictError,
  type KubeClient,
  type KubeObject,
  NotFoundError,
} from "../../../controllers/runtime/types.ts";

const NS = "ops";
const NAME = "leader";
const LEASE_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;

/** Time that moves only when the test wakes a sleeping elector. */
class ManualClock implements ElectionClock {
  private t: number;
  private sleeper: { ms: number; wake: () => void } | undefined;
  private waitingForSleep: (() => void)[] = [];

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.sleeper = undefined;
        signal.removeEventListener("abort", wake);
        resolve();
      };
      this.sleeper = { ms, wake };
      signal.addEventListener("abort", wake);
      for (const notify of this.waitingForSleep.splice(0)) notify();
    });
  }

  /** Resolves once the elector waits between attempts (at once if it already does). */
  asleep(): Promise<void> {
    return this.sleeper ? Promise.resolve() : new Promise((r) => this.waitingForSleep.push(r));
  }

  /** Lets the sleeping elector's wait pass: time moves by what it asked for. */
  async tick(): Promise<void> {
    await this.asleep();
    const { ms, wake } = this.sleeper!;
    this.t += ms;
    wake();
  }

  /** Seconds since the start, for messages. */
  elapsed(start = Date.UTC(2030, 0, 1)): number {
    return (this.t - start) / 1000;
  }
}

/** One Lease, with resourceVersion preconditions (409) and an outage switch. */
class FakeLeases {
  lease: KubeObject | undefined;
  down = false;
  writes = 0;
  private rv = 0;

  get client(): KubeClient {
    const clone = <T>(o: T): T => structuredClone(o);
    const check = () => {
      if (this.down) return Promise.reject(new Error("apiserver unavailable"));
    };
    return {
      get: async () => {
        await check();
        return this.lease && clone(this.lease);
      },
      create: async (_type: unknown, obj: KubeObject) => {
        await check();
        if (this.lease) throw new AlreadyExistsError("exists");
        this.lease = { ...clone(obj), metadata: { ...obj.metadata, resourceVersion: this.bump() } };
        return clone(this.lease);
      },
      patch: async (_type: unknown, _ns: string, _name: string, body: KubeObject) => {
        await check();
        if (!this.lease) throw new NotFoundError("no lease");
        const want = body.metadata?.resourceVersion;
        if (want && want !== this.lease.metadata?.resourceVersion) throw new ConflictError("409");
        this.lease = {
          ...this.lease,
          metadata: { ...this.lease.metadata, resourceVersion: this.bump() },
          spec: { ...this.lease.spec as object, ...body.spec as object },
        };
        return clone(this.lease);
      },
    } as unknown as KubeClient;
  }

  // deno-lint-ignore no-explicit-any
  get spec(): any {
    return this.lease?.spec;
  }

  /** Someone else writes the Lease (another replica, or an operator by hand). */
  overwrite(spec: Record<string, unknown>): void {
    this.lease = {
      ...this.lease,
      metadata: { ...this.lease!.metadata, resourceVersion: this.bump() },
      spec: { ...this.lease!.spec as object, ...spec },
    };
  }

  private bump(): string {
    this.writes++;
    return String(++this.rv);
  }
}

function elector(api: FakeLeases, identity: string, clock: ManualClock): LeaderElector {
  return new LeaderElector(api.client, {
    namespace: NS,
    name: NAME,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    clock,
  }, silentLogger);
}

const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, "000Z");

/** Wakes `clock`'s elector and says whether `settled` settled before it slept again. */
async function tickUntil<T>(clock: ManualClock, settled: Promise<T>): Promise<boolean> {
  let done = false;
  const mark = settled.then(() => (done = true));
  await clock.tick();
  await Promise.race([mark, clock.asleep()]);
  return done;
}

/** Replica "a", leading and renewing its Lease, on a clock of its own. */
async function holdingLeader() {
  const api = new FakeLeases();
  const clock = new ManualClock();
  const a = elector(api, "a", clock);
  assert.equal(await a.acquire(), true);
  return { api, clock, a, holding: a.holdLease() };
}

Deno.test("leader: a free Lease is taken at once and renewed every retry period", async () => {
  const api = new FakeLeases();
  const clock = new ManualClock();
  const a = elector(api, "a", clock);
  assert.equal(await a.acquire(), true);
  assert.ok(a.isLeader());
  assert.equal(api.spec.holderIdentity, "a");
  assert.equal(api.spec.leaseDurationSeconds, 15);
  assert.equal(api.spec.leaseTransitions, 0);
  assert.equal(api.spec.acquireTime, micro(clock.now()));

  const holding = a.holdLease();
  for (let i = 1; i <= 3; i++) {
    assert.equal(await tickUntil(clock, holding), false);
    assert.equal(api.spec.renewTime, micro(clock.now()), `renewal ${i}`);
  }
  assert.equal(clock.elapsed(), 6);
  assert.equal(api.spec.leaseTransitions, 0, "renewing is not a transition");
  a.stop();
  assert.equal(await holding, "stopped");
});

Deno.test("leader: another replica waits out a lease duration of an unchanged record, counted from when it saw it change", async () => {
  const api = new FakeLeases();
  const a = elector(api, "a", new ManualClock());
  assert.equal(await a.acquire(), true);

  // b's clock is years off a's: expiry is judged by b's own time alone.
  const bClock = new ManualClock(Date.UTC(2040, 5, 1));
  const start = bClock.now();
  const b = elector(api, "b", bClock);
  let leading = false;
  const acquiring = b.acquire().then((v) => (leading = v));
  await bClock.asleep();
  assert.equal(leading, false, "a live lease is not taken");

  // Ticks at 2..10 s: a's record has not changed since b first saw it at 0 s.
  for (let i = 0; i < 5; i++) assert.equal(await tickUntil(bClock, acquiring), false);
  // a renews once (b sees it at 12 s): b's wait starts again from there.
  api.overwrite({ renewTime: "renewed by a" });
  let ticks = 0;
  while (!(await tickUntil(bClock, acquiring)) && ticks < 100) ticks++;
  assert.equal(leading, true);
  assert.equal(bClock.elapsed(start), 28, "the first retry at least 15 s after the change at 12 s");
  assert.equal(ticks, 8);
  assert.equal(api.spec.holderIdentity, "b");
  assert.equal(api.spec.leaseTransitions, 1);
  assert.equal(api.spec.acquireTime, micro(bClock.now()));
  b.stop();
  a.stop();
});

Deno.test("leader: a leader that cannot renew stops leading at the renew deadline, inside the lease duration", async () => {
  const { api, clock, a, holding } = await holdingLeader();

  // A short outage inside the deadline is ridden out.
  api.down = true;
  assert.equal(await tickUntil(clock, holding), false);
  assert.equal(await tickUntil(clock, holding), false);
  api.down = false;
  assert.equal(await tickUntil(clock, holding), false);
  assert.equal(api.spec.renewTime, micro(clock.now()), "renewed after the outage");
  assert.ok(a.isLeader());

  // A longer one is not: the last renewal was at 6 s; 8, 10, 12, 14 fail, 16 gives up.
  api.down = true;
  const renewedAt = clock.elapsed();
  let ticks = 0;
  while (!(await tickUntil(clock, holding)) && ticks < 100) ticks++;
  assert.equal(await holding, "lost");
  assert.equal(a.isLeader(), false);
  assert.equal(clock.elapsed() - renewedAt, RENEW_DEADLINE_MS / 1000);
  assert.ok(clock.elapsed() - renewedAt < LEASE_MS / 1000, "before another replica may take over");
  assert.equal(ticks, 4);
});

Deno.test("leader: a leader that finds another holder in the Lease stops at its next renewal", async () => {
  const { api, clock, holding } = await holdingLeader();
  api.overwrite({ holderIdentity: "someone-else", renewTime: "now" });
  assert.equal(await tickUntil(clock, holding), true);
  assert.equal(await holding, "lost");
  assert.equal(api.spec.holderIdentity, "someone-else", "the other holder's record is left alone");
});

Deno.test("leader: a released Lease is taken by the next replica at its first attempt", async () => {
  const api = new FakeLeases();
  const a = elector(api, "a", new ManualClock());
  await a.acquire();
  await a.release();
  assert.equal(a.isLeader(), false);
  assert.equal(api.spec.holderIdentity, "");
  const b = elector(api, "b", new ManualClock(Date.UTC(2035, 0, 1)));
  assert.equal(await b.acquire(), true, "no lease duration to wait out");
  assert.equal(api.spec.holderIdentity, "b");
});

Deno.test("leader: stop() ends a replica's wait for the Lease, which then reports not leading", async () => {
  const api = new FakeLeases();
  await elector(api, "a", new ManualClock()).acquire();
  const clock = new ManualClock();
  const b = elector(api, "b", clock);
  const acquiring = b.acquire();
  await clock.asleep();
  const writes = api.writes;
  b.stop();
  assert.equal(await acquiring, false);
  assert.equal(api.writes, writes, "a stopped replica writes nothing");
});
