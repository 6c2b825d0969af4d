// The faults, one per scenario. Each waits until the burst is under way (a
// share of the Jobs exists), injects its fault, and resolves with the moment
// the fault ended, from which recovery is measured.
import { join } from "node:path";
import {
  type ClusterState,
  etcdHttpClient,
  startComponent,
  stopComponent,
} from "../../localcluster/cluster.ts";
import { pkiFiles } from "../../localcluster/pki.ts";
import type { RestKubeClient } from "../../controllers/runtime/kube.ts";
import type { ResourceType } from "../../controllers/runtime/types.ts";
import type { Operators } from "./operators.ts";
import { LEASE_NAMESPACE } from "./operators.ts";
import type { Sampler } from "./sampler.ts";
import { StallingProxy } from "./proxy.ts";

export interface ScenarioContext {
  state: ClusterState;
  client: RestKubeClient;
  operators: Operators;
  sampler: Sampler;
  tasks: number;
  log(msg: string): void;
}

export interface FaultResult {
  /** performance.now() when the fault ended. */
  endedAt: number;
  /** Anything measured on the way (fail-over seconds). */
  notes?: string;
}

export interface Scenario {
  name: string;
  replicas: number;
  /** Optionally, the kubeconfig the operators use instead of the cluster's (the proxy). */
  setup?(state: ClusterState): Promise<string>;
  fault(ctx: ScenarioContext): Promise<FaultResult>;
  teardown?(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `share` of the burst's Tasks have their Job. */
async function burstAt(ctx: ScenarioContext, share: number): Promise<void> {
  while (ctx.sampler.jobCount() < ctx.tasks * share) await sleep(20);
}

/** Stops a control-plane component for `ms`, then starts it again on the same port. */
function componentDown(name: string, component: string, ms: number): Scenario {
  return {
    name,
    replicas: 1,
    async fault(ctx) {
      await burstAt(ctx, 0.15);
      ctx.log(`stopping ${component} for ${ms / 1000} s`);
      await stopComponent(ctx.state, component);
      await sleep(ms);
      await startComponent(ctx.state, component);
      ctx.log(`${component} started again`);
      return { endedAt: performance.now() };
    },
  };
}

const LeaseResource: ResourceType = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
};

async function leaseHolder(client: RestKubeClient): Promise<string | undefined> {
  const lease = await client.get(LeaseResource, LEASE_NAMESPACE, "kubetask-controller-leader")
    .catch(() => undefined);
  return lease?.spec?.holderIdentity;
}

function stallingProxy(): Scenario {
  let proxy: StallingProxy | undefined;
  return {
    name: "proxy-stall-30s",
    replicas: 1,
    async setup(state) {
      proxy = new StallingProxy(Number(new URL(state.server).port));
      const path = join(state.dir, "operator-via-proxy.kubeconfig");
      const original = await Deno.readTextFile(state.operatorKubeconfig!);
      await Deno.writeTextFile(
        path,
        original.replace(state.server, `https://127.0.0.1:${proxy.port}`),
        { mode: 0o600 },
      );
      return path;
    },
    async fault(ctx) {
      await burstAt(ctx, 0.15);
      ctx.log("proxy stalls for 30 s");
      proxy!.stall();
      await sleep(30_000);
      proxy!.unstall();
      return { endedAt: performance.now() };
    },
    teardown() {
      proxy?.close();
    },
  };
}

/** Compacts etcd to its current revision every 3 s for 60 s: watches end with 410 Gone. */
async function compactEtcd(ctx: ScenarioContext): Promise<FaultResult> {
  const client = await etcdHttpClient(pkiFiles(join(ctx.state.dir, "pki")));
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${ctx.state.etcdUrl}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      client,
    });
    return await res.json();
  };
  let compactions = 0;
  try {
    await burstAt(ctx, 0.05);
    const until = performance.now() + 60_000;
    while (performance.now() < until) {
      const { header } = await post("/v3/kv/range", { key: btoa("/registry/"), limit: 1 });
      await post("/v3/kv/compaction", { revision: header.revision });
      compactions++;
      await sleep(3000);
    }
  } finally {
    client.close();
  }
  return { endedAt: performance.now(), notes: `${compactions} compactions` };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "operator-sigkill-x3",
    replicas: 1,
    async fault(ctx) {
      for (const share of [0.1, 0.3, 0.5]) {
        await burstAt(ctx, share);
        ctx.log(`SIGKILL the operator at ${ctx.sampler.jobCount()} Jobs`);
        await ctx.operators.kill();
      }
      return { endedAt: performance.now() };
    },
  },
  componentDown("apiserver-down-20s", "kube-apiserver", 20_000),
  componentDown("controller-manager-down-60s", "kube-controller-manager", 60_000),
  componentDown("etcd-down-10s", "etcd", 10_000),
  {
    name: "leader-killed",
    replicas: 2,
    async fault(ctx) {
      await burstAt(ctx, 0.15);
      const old = await leaseHolder(ctx.client);
      const leader = await ctx.operators.leader();
      if (!old || !leader) throw new Error("no leader to kill");
      ctx.log(`SIGKILL the leader ${old}`);
      const killedAt = performance.now();
      await ctx.operators.kill(leader);
      for (;;) {
        const holder = await leaseHolder(ctx.client);
        if (holder && holder !== old) break;
        await sleep(100);
      }
      const failover = (performance.now() - killedAt) / 1000;
      ctx.log(`new leader after ${failover.toFixed(1)} s`);
      return { endedAt: performance.now(), notes: `fail-over ${failover.toFixed(1)} s` };
    },
  },
  stallingProxy(),
  { name: "etcd-compaction-3s", replicas: 1, fault: compactEtcd },
];
