// Two operator processes compete for the Lease: exactly one leads; when the
// leader is killed the other takes over within the lease duration; a
// SIGTERM'd leader exits 0 and releases the Lease.
import assert from "assert";
import { fileURLToPath } from "node:url";
import { installCrds } from "../api/crds.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";

const MAIN = fileURLToPath(new URL("../../../main.ts", import.meta.url));
const LEASE = "kubetask-controller-leader";
const LEASE_DURATION_MS = 15_000;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** One `deno run main.ts` subprocess with its metrics port and captured logs. */
class Operator {
  readonly port = freePort();
  readonly child: Deno.ChildProcess;
  logs = "";
  private readonly drained: Promise<void>;

  constructor(ns: string) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        `--namespaces=${ns}`,
        `--leader-election-namespace=${ns}`,
        `--metrics-addr=127.0.0.1:${this.port}`,
        "--metrics-secure=false", // plain HTTP on loopback: the test reads leadership there
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.drained = this.child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (this.logs += chunk) }),
    ).catch(() => {});
  }

  async metrics(): Promise<string | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
      return await res.text();
    } catch {
      return undefined; // not listening (yet, or any more)
    }
  }

  async isLeader(): Promise<boolean | undefined> {
    const text = await this.metrics();
    if (text === undefined) return undefined;
    return /^kubetask_leader 1$/m.test(text);
  }

  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    const status = await this.child.status;
    await this.drained;
    return status;
  }
}

async function leaseHolder(ns: string): Promise<string> {
  return (await kubectl(["get", "lease", LEASE, "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"]))
    .trim();
}

Deno.test("leader election: one leader, fail-over after SIGKILL, release on SIGTERM", async () => {
  await installCrds();
  const ns = await testNamespace("rt-leader");
  const a = new Operator(ns.name);
  const b = new Operator(ns.name);
  let twoLeaders = false;
  try {
    const [leader, follower] = await eventually("exactly one leader", async () => {
      const [la, lb] = await Promise.all([a.isLeader(), b.isLeader()]);
      if (la === undefined || lb === undefined) return undefined;
      if (la && !lb) return [a, b];
      if (lb && !la) return [b, a];
      if (la && lb) twoLeaders = true;
      return undefined;
    }, 60_000).catch((err) => {
      throw new Error(`${err}\n--- a ---\n${a.logs}\n--- b ---\n${b.logs}`);
    });
    assert.equal(twoLeaders, false, "two leaders at once");
    assert.notEqual(await leaseHolder(ns.name), "");

    // The operator's metrics show the documented series.
    const text = (await leader.metrics())!;
    for (
      const series of [
        "kubetask_workqueue_depth",
        "kubetask_workqueue_adds_total",
        "kubetask_workqueue_retries_total",
        "kubetask_reconcile_duration_seconds_bucket",
        "kubetask_reconcile_errors_total",
        "kubetask_watch_restarts_total",
        "kubetask_leader",
      ]
    ) {
      assert.match(text, new RegExp(`^${series}`, "m"), `missing ${series}`);
    }
    // Ready once caches synced, whether leading or not.
    await eventually("follower ready", async () => {
      const res = await fetch(`http://127.0.0.1:${follower.port}/readyz`);
      await res.body?.cancel();
      return res.ok;
    });

    // Kill the leader without a chance to release: the follower waits out the lease.
    const holderBefore = await leaseHolder(ns.name);
    await leader.kill("SIGKILL");
    await eventually("follower takes over", () => follower.isLeader(), LEASE_DURATION_MS + 10_000);
    assert.notEqual(await leaseHolder(ns.name), holderBefore);

    // Graceful shutdown: exit 0 and hand the lease back.
    const status = await follower.kill("SIGTERM");
    assert.equal(status.code, 0, follower.logs);
    assert.equal(await leaseHolder(ns.name), "");
  } finally {
    await Promise.all([a.kill("SIGKILL"), b.kill("SIGKILL")]);
    await ns.cleanup();
  }
});
