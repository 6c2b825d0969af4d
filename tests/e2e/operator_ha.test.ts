// High availability and upgrade of the operator as users run it: two
// replicas of the chart's Deployment on the real node, from the local image,
// electing a leader on their Lease, while bursts of 200 Tasks (whose agent
// pods go to the simulated kwok node, so they cost little) are reconciled.
//
// One install serves every case, in order: the leader pod deleted mid-burst
// (the standby takes over); the leader's process SIGKILLed from the host (no
// release: nobody takes the Lease before its record expires); `helm upgrade`
// to a second tag of the same image mid-burst (a rolling update; the old
// leader releases the Lease on SIGTERM, so the hand-over does not wait for it
// to expire); then `helm uninstall` mid-burst (Tasks and Jobs stay) and a
// reinstall that adopts them. After each case every Task has exactly one Job
// and reaches a final phase.
//
// The figures (take-over, hand-over) are printed, not asserted on; what is
// asserted is the order of the Lease's records: after a release the new holder
// acquired before the old record would have expired, after a SIGKILL not
// before it had.
import assert from "assert";
import { ECHO_AGENT_IMAGE } from "../../agents/images.ts";
import { TASK_LABEL } from "../../controllers/task/names.ts";
import { DEFAULT_LEASE_DURATION_MS } from "../../controllers/runtime/leader.ts";
import { installCrds } from "../integration/api/crds.ts";
import { eventually, kubectl, testNamespace } from "../integration/env.ts";
import { chart, helm } from "../integration/ship/helm.ts";
import { IMAGE, operatorNamespace, realNodeValues, REPOSITORY } from "./operator_install.ts";
import { onRealNode, realNode } from "./real_node.ts";
import { runCommand } from "../../localcluster/process.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const RELEASE = "kt-ha";
const LEASE = "kubetask-controller";
const BURST = 200;
/** The bursts, in order; each case adds one. */
const BURSTS = ["kill", "sigkill", "upgrade", "reinstall"];
const FINAL = new Set(["Completed", "Failed"]);
/** The chart keeps the operator's default Lease duration. */
const LEASE_DURATION_MS = DEFAULT_LEASE_DURATION_MS;
const UPGRADE_TAG = "ha-upgrade";

interface LeaseView {
  holder: string;
  acquireTime?: string;
  renewTime?: string;
  durationSeconds?: number;
}

async function lease(ns: string): Promise<LeaseView | undefined> {
  const out = await kubectl(["get", "lease", LEASE, "-n", ns, "--ignore-not-found", "-o", "json"]);
  if (!out.trim()) return undefined;
  const spec = JSON.parse(out).spec ?? {};
  return {
    holder: spec.holderIdentity ?? "",
    acquireTime: spec.acquireTime,
    renewTime: spec.renewTime,
    durationSeconds: spec.leaseDurationSeconds,
  };
}

/** The pod a holder identity names (identities are the pod's hostname plus a suffix). */
const podOf = (holder: string) => holder.slice(0, holder.lastIndexOf("_"));

/**
 * Watches the Lease until someone other than `from` holds it; returns when
 * that was seen, what was seen on the way (a release shows as ""), and the
 * last record seen that `from` still held.
 */
async function nextHolder(
  ns: string,
  from: string,
): Promise<{ at: number; lease: LeaseView; sawRelease: boolean; last?: LeaseView }> {
  let sawRelease = false;
  let last: LeaseView | undefined;
  return await eventually(`the Lease held by someone other than ${from}`, async () => {
    const l = await lease(ns);
    if (l?.holder === "") sawRelease = true;
    if (l?.holder === from) last = l;
    return l && l.holder && l.holder !== from
      ? { at: Date.now(), lease: l, sawRelease, last }
      : undefined;
  }, 120_000);
}

/** Two Ready pods of the install, from `image`. */
async function twoReady(ns: string, image: string): Promise<Json[]> {
  return await eventually(`two Ready operator pods from ${image}`, async () => {
    const pods = JSON.parse(
      await kubectl([
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        `app.kubernetes.io/instance=${RELEASE}`,
        "-o",
        "json",
      ]),
    ).items.filter((p: Json) =>
      !p.metadata.deletionTimestamp && p.spec.containers[0].image === image &&
      p.status?.conditions?.some((c: Json) => c.type === "Ready" && c.status === "True")
    );
    return pods.length === 2 ? pods : undefined;
  }, 240_000);
}

async function createTasks(ns: string, prefix: string, n: number): Promise<void> {
  const items = Array.from({ length: n }, (_, i) => ({
    apiVersion: "kubetask.io/v1alpha1",
    kind: "Task",
    metadata: { name: `${prefix}-${i}` },
    spec: { description: `burst ${prefix} ${i}` },
  }));
  await kubectl(
    ["create", "-n", ns, "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items }),
  );
}

/** Jobs per Task (by owner reference, and the Task label agreeing). */
async function jobsPerTask(ns: string): Promise<Map<string, number>> {
  const jobs = JSON.parse(await kubectl(["get", "jobs", "-n", ns, "-o", "json"])).items;
  const count = new Map<string, number>();
  for (const j of jobs) {
    const owner = (j.metadata.ownerReferences ?? []).find((o: Json) => o.kind === "Task");
    assert.ok(owner, `job/${j.metadata.name} has a Task owner`);
    assert.equal(j.metadata.labels?.[TASK_LABEL], owner.name, `job/${j.metadata.name}'s label`);
    count.set(owner.name, (count.get(owner.name) ?? 0) + 1);
  }
  return count;
}

/** Waits for every Task of `prefix` to be final, then checks one Job each; returns the counts. */
async function allFinalWithOneJob(ns: string, prefix: string, n: number): Promise<string> {
  const tasks: Json[] = await eventually(`${n} Tasks ${prefix}-* in a final phase`, async () => {
    const items = JSON.parse(await kubectl(["get", "tasks", "-n", ns, "-o", "json"])).items
      .filter((t: Json) => t.metadata.name.startsWith(`${prefix}-`));
    return items.length === n && items.every((t: Json) => FINAL.has(t.status?.phase))
      ? items
      : undefined;
  }, 300_000);
  const jobs = await jobsPerTask(ns);
  const counts = new Map<number, number>();
  for (const t of tasks) {
    const c = jobs.get(t.metadata.name) ?? 0;
    counts.set(c, (counts.get(c) ?? 0) + 1);
    assert.equal(c, 1, `Task ${t.metadata.name} has ${c} Jobs`);
    assert.equal(t.status.jobName !== undefined, true, `Task ${t.metadata.name} names its Job`);
  }
  const phases = new Map<string, number>();
  for (const t of tasks) phases.set(t.status.phase, (phases.get(t.status.phase) ?? 0) + 1);
  return `${prefix}: ${n} Tasks, Jobs per Task ${JSON.stringify(Object.fromEntries(counts))}, ` +
    `phases ${JSON.stringify(Object.fromEntries(phases))}`;
}

/** Some Tasks of `prefix` have a Job: the burst is being worked on. */
async function someJobs(ns: string, prefix: string, atLeast: number): Promise<void> {
  await eventually(`${atLeast} Jobs of ${prefix}-*`, async () => {
    const jobs = await jobsPerTask(ns);
    return [...jobs.keys()].filter((k) => k.startsWith(`${prefix}-`)).length >= atLeast ||
      undefined;
  }, 120_000);
}

/**
 * The host PID of the operator container's main process in pod `pod` (the
 * real node's containers are this host's processes), from containerd's task
 * of the container the pod's status names.
 */
async function operatorProcess(ns: string, pod: string): Promise<number> {
  const id = (await kubectl([
    "get",
    "pod",
    pod,
    "-n",
    ns,
    "-o",
    "jsonpath={.status.containerStatuses[0].containerID}",
  ])).replace(/^containerd:\/\//, "").trim();
  // "TASK PID STATUS" lines.
  const row = (await ctr("tasks", "ls")).split("\n").map((l) => l.trim().split(/\s+/))
    .find(([task]) => task === id);
  assert.ok(row, `containerd runs container ${id} of ${pod}`);
  return Number(row[1]);
}

const log = (line: string) => console.error(`[e2e ha] ${line}`);

Deno.test(
  onRealNode(
    "e2e: two operator replicas survive a leader deletion, an upgrade and a reinstall mid-burst",
  ),
  async () => {
    await installCrds();
    const opNs = await operatorNamespace();
    const tasks = await testNamespace("kubetask-ha-tasks");
    // The agent pods go to the kwok node (no real-node scheduling): 200 of them cost little.
    const create = (obj: Json) =>
      kubectl(["create", "-n", tasks.name, "-f", "-"], JSON.stringify(obj));
    await create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agent-sa" } });
    await create({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Agent",
      metadata: { name: "default" },
      spec: { agentImage: ECHO_AGENT_IMAGE, serviceAccountName: "agent-sa" },
    });
    // The same image under a second tag, for the upgrade.
    const upgraded = `${REPOSITORY}:${UPGRADE_TAG}`;
    await ctr("images", "tag", "--force", IMAGE, upgraded);
    const install = (verb: string, tag?: string) =>
      helm(
        verb,
        RELEASE,
        chart,
        "-n",
        opNs.name,
        ...realNodeValues(tasks.name, tag),
        "--set",
        "replicas=2",
      );
    let installed = false;
    try {
      await install("install");
      installed = true;
      await twoReady(opNs.name, IMAGE);
      const first = await eventually(
        "a leader",
        async () => (await lease(opNs.name))?.holder || undefined,
      );
      log(`pods:\n${await kubectl(["get", "pods", "-n", opNs.name, "-o", "wide"])}`);

      // 1. The leader pod deleted mid-burst: the standby takes over.
      await createTasks(tasks.name, "kill", BURST);
      await someJobs(tasks.name, "kill", 20);
      const deletedAt = Date.now();
      await kubectl(["delete", "pod", podOf(first), "-n", opNs.name, "--wait=false"]);
      const takeover = await nextHolder(opNs.name, first);
      log(
        `leader ${podOf(first)} deleted; ${podOf(takeover.lease.holder)} holds the Lease ` +
          `${((takeover.at - deletedAt) / 1000).toFixed(1)} s later (Lease duration ${
            LEASE_DURATION_MS / 1000
          } s, ` +
          `release seen: ${takeover.sawRelease})`,
      );
      assert.notEqual(podOf(takeover.lease.holder), podOf(first));
      log(await allFinalWithOneJob(tasks.name, "kill", BURST));
      await twoReady(opNs.name, IMAGE);

      // 1b. The leader's process SIGKILLed mid-burst (no SIGTERM, no release): the Lease must
      // expire before anyone takes it, and then the standby (or the restarted container) does.
      const killed = (await lease(opNs.name))!.holder;
      await createTasks(tasks.name, "sigkill", BURST);
      await someJobs(tasks.name, "sigkill", 20);
      const pid = await operatorProcess(opNs.name, podOf(killed));
      const killedAt = Date.now();
      Deno.kill(pid, "SIGKILL");
      const expiry = await nextHolder(opNs.name, killed);
      const acquired = Date.parse(expiry.lease.acquireTime!);
      const lastRenewal = Date.parse(expiry.last!.renewTime!);
      log(
        `leader ${podOf(killed)} SIGKILLed (host pid ${pid}); ` +
          `${podOf(expiry.lease.holder)} holds the Lease ${
            ((expiry.at - killedAt) / 1000).toFixed(1)
          } s later, ${((acquired - lastRenewal) / 1000).toFixed(2)} s after the killed ` +
          `leader's last renewal (release seen: ${expiry.sawRelease})`,
      );
      assert.equal(expiry.sawRelease, false, "a SIGKILLed leader releases nothing");
      assert.ok(
        acquired >= lastRenewal + LEASE_DURATION_MS,
        "nobody took the Lease before the killed leader's record expired",
      );
      log(await allFinalWithOneJob(tasks.name, "sigkill", BURST));
      await twoReady(opNs.name, IMAGE);

      // 2. helm upgrade to a new tag mid-burst: a rolling update, the Lease handed over on SIGTERM.
      const before = (await lease(opNs.name))!;
      await createTasks(tasks.name, "upgrade", BURST);
      await someJobs(tasks.name, "upgrade", 20);
      const upgradeAt = Date.now();
      await install("upgrade", UPGRADE_TAG);
      // Every change of holder during the rolling update, as sampled.
      const changes: {
        at: number;
        from: LeaseView;
        to: LeaseView;
        sawRelease: boolean;
        releasedAt?: number;
      }[] = [];
      let sampling = true;
      // `last` is the latest record seen: the old holder's last renewal, or its release.
      const sampler = (async () => {
        let [holder, last, sawRelease] = [before, before, false];
        let releasedAt: number | undefined;
        // One read more once sampling stops: the check that ended it may have seen a change that
        // the read in flight then had not (a hand-over lost to this race failed a CI run).
        for (let final = false; !final;) {
          final = !sampling;
          const l = await lease(opNs.name).catch(() => undefined);
          if (l?.holder === "" && !sawRelease) [sawRelease, releasedAt] = [true, Date.now()];
          if (l?.holder && l.holder !== holder.holder) {
            changes.push({
              releasedAt,
              at: Date.now(),
              from: { ...last, holder: holder.holder },
              to: l,
              sawRelease,
            });
            [holder, sawRelease] = [l, false];
          }
          if (l) last = l;
          if (!final) await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const pods = await eventually("the Lease held by an upgraded pod", async () => {
        const ready = await twoReady(opNs.name, upgraded);
        const now = await lease(opNs.name);
        return ready.some((p: Json) => p.metadata.name === podOf(now?.holder ?? ""))
          ? ready
          : undefined;
      }, 300_000);
      sampling = false;
      await sampler;
      const handovers = changes.map((c) => {
        const oldRenew = Date.parse(c.from.renewTime!);
        const newAcquire = Date.parse(c.to.acquireTime!);
        const line = `${podOf(c.from.holder)} -> ${podOf(c.to.holder)}: ` +
          `${((newAcquire - oldRenew) / 1000).toFixed(2)} s from the old holder's last write ` +
          `(renewal or release) to the new holder's acquisition (release seen: ${c.sawRelease}` +
          (c.releasedAt
            ? `, new holder seen ${((c.at - c.releasedAt) / 1000).toFixed(1)} s after it)`
            : ")");
        // Before the old record could expire: only a release lets a standby in that early.
        assert.ok(
          newAcquire < oldRenew + LEASE_DURATION_MS,
          `handed over without waiting: ${line}`,
        );
        return line;
      });
      assert.ok(handovers.length >= 1, "the Lease changed hands during the upgrade");
      log(
        `upgrade to ${UPGRADE_TAG} (${((Date.now() - upgradeAt) / 1000).toFixed(0)} s): ${
          handovers.join("; ")
        }`,
      );
      assert.ok(pods.every((p: Json) => p.spec.containers[0].image === upgraded));
      log(
        `pods after the upgrade:\n${await kubectl(["get", "pods", "-n", opNs.name, "-o", "wide"])}`,
      );
      log(await allFinalWithOneJob(tasks.name, "upgrade", BURST));

      // 3. helm uninstall mid-burst leaves Tasks and Jobs; a reinstall adopts them.
      await createTasks(tasks.name, "reinstall", BURST);
      await someJobs(tasks.name, "reinstall", 20);
      await helm("uninstall", RELEASE, "-n", opNs.name, "--wait", "--timeout", "120s");
      installed = false;
      await kubectl(["get", "crd", "tasks.kubetask.io"]);
      const left = await jobsPerTask(tasks.name);
      const taskCount =
        JSON.parse(await kubectl(["get", "tasks", "-n", tasks.name, "-o", "json"])).items.length;
      assert.equal(taskCount, BURSTS.length * BURST, "every Task stays");
      assert.ok([...left.values()].every((c) => c === 1), "one Job per Task after the uninstall");
      const unfinished =
        JSON.parse(await kubectl(["get", "tasks", "-n", tasks.name, "-o", "json"])).items
          .filter((t: Json) => !FINAL.has(t.status?.phase)).length;
      log(
        `uninstalled: ${taskCount} Tasks and ${left.size} Jobs stay, ${unfinished} Tasks not final yet`,
      );
      await install("install");
      installed = true;
      log(await allFinalWithOneJob(tasks.name, "reinstall", BURST));
      for (const prefix of BURSTS.slice(0, -1)) await allFinalWithOneJob(tasks.name, prefix, BURST);
    } finally {
      if (installed) await helm("uninstall", RELEASE, "-n", opNs.name).catch(() => {});
      await ctr("images", "rm", upgraded).catch(() => {});
      await tasks.cleanup();
      await opNs.cleanup();
    }
  },
);

/** `ctr` on the real node's containerd, in the kubelet's namespace. */
async function ctr(...args: string[]): Promise<string> {
  return await runCommand("ctr", [
    "--address",
    realNode!.containerdSocket,
    "-n",
    "k8s.io",
    ...args,
  ]);
}
