// The APF case: the operator's user gets a priority level of its own with a
// small share of the apiserver (a FlowSchema and PriorityLevelConfiguration
// this case creates), so that a burst meets real 429s. Every Task must still
// get exactly one Job; the figures say how many 429s were met and what they cost.
import type { ClusterState } from "../../../localcluster/cluster.ts";
import { OPERATOR_USER } from "../../../localcluster/operator_identity.ts";
import { applyCrds, ourCrds } from "../../../controllers/crds.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import type { ResourceType } from "../../../controllers/runtime/types.ts";
import { adminClient, JobCounter, writeTasks } from "./load.ts";
import { OperatorProcess } from "./operator_process.ts";
import { ownership } from "./ownership.ts";
import { sumOf } from "./prometheus.ts";
import { audited, log, NS, SA, seconds, withCluster } from "./bench_cluster.ts";

const FLOWCONTROL = "flowcontrol.apiserver.k8s.io/v1";
const PriorityLevelResource: ResourceType = {
  apiVersion: FLOWCONTROL,
  kind: "PriorityLevelConfiguration",
  plural: "prioritylevelconfigurations",
  namespaced: false,
};
const FlowSchemaResource: ResourceType = {
  apiVersion: FLOWCONTROL,
  kind: "FlowSchema",
  plural: "flowschemas",
  namespaced: false,
};
const LEVEL = "kubetask-operator-small";

/**
 * One share in about 250 of the apiserver's 600 seats (about 3), nothing borrowed, and one short
 * queue: the operator's 16 workers and its Event writers outnumber what the level admits, so
 * the apiserver refuses the rest with 429 and Retry-After.
 */
export const smallPriorityLevel = {
  metadata: { name: LEVEL },
  spec: {
    type: "Limited",
    limited: {
      nominalConcurrencyShares: 1,
      lendablePercent: 0,
      borrowingLimitPercent: 0,
      limitResponse: {
        type: "Queue",
        queuing: { queues: 1, handSize: 1, queueLengthLimit: 4 },
      },
    },
  },
};

/** Every request of the operator's user, before the built-in schemas (9900 and up) see it. */
export const operatorFlowSchema = {
  metadata: { name: LEVEL },
  spec: {
    matchingPrecedence: 500,
    priorityLevelConfiguration: { name: LEVEL },
    distinguisherMethod: { type: "ByUser" },
    rules: [{
      subjects: [{ kind: "User", user: { name: OPERATOR_USER } }],
      resourceRules: [{
        verbs: ["*"],
        apiGroups: ["*"],
        resources: ["*"],
        clusterScope: true,
        namespaces: ["*"],
      }],
      nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
    }],
  },
};

export interface ApfFigures {
  jobsSeconds: number;
  /** 429s the apiserver sent the operator (its audit log). */
  refusedAudited: number;
  /** 429s the operator received (its own counter on /metrics). */
  refusedSeen: number;
  requests: number;
  duplicates: number;
  lost: number;
}

export async function apfCase(tasks: number, writers: number): Promise<ApfFigures> {
  return await withCluster("apf", async (state: ClusterState) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    await applyCrds(client, ourCrds(), silentLogger);
    await client.create(PriorityLevelResource, smallPriorityLevel);
    await client.create(FlowSchemaResource, operatorFlowSchema);
    await client.create(AgentResource, {
      metadata: { name: "default", namespace: NS },
      spec: { agentImage: "example.test/agent:1", serviceAccountName: SA },
    });
    const operator = new OperatorProcess(state.operatorKubeconfig!, NS);
    try {
      await operator.ready();
      const before = await audited(state);
      const jobs = new JobCounter(transport, NS);
      await jobs.synced();
      log(`APF: creating ${tasks} Tasks with ${writers} writers, operator on "${LEVEL}"`);
      const t0 = performance.now();
      await writeTasks(client, writers, tasks, NS);
      await jobs.reached(tasks, 600_000);
      const jobsSeconds = seconds(t0);
      await jobs.stop();
      // Let the last status writes land before the Jobs are counted per Task.
      await operator.drained(tasks, 300_000);
      const after = (await audited(state)).slice(before.length);
      const refusedSeen = sumOf(await operator.metrics(), "kubetask_api_requests_total", {
        code: "429",
      });
      const owned = ownership(
        await client.list(TaskResource, NS),
        await client.list(JobResource, NS),
      );
      return {
        jobsSeconds,
        refusedAudited: after.filter((r) => r.code === 429).length,
        refusedSeen,
        requests: after.length,
        duplicates: owned.duplicates.length,
        lost: owned.lost.length,
      };
    } finally {
      await operator.stop();
      await transport.close();
    }
  });
}
