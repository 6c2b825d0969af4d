// The CLI finds a Task's agent pod as the operator finds a Job's pods: by the
// Job's uid, so the pods of an earlier Job of the same name are never shown.
import assert from "assert";
import { agentPod } from "../../../cli/tasks.ts";
import type { Session } from "../../../cli/session.ts";
import { controllerReference } from "../../../controllers/runtime/owners.ts";
import { JobResource, PodResource } from "../../../controllers/runtime/resources.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";

function setup() {
  const c = new FakeCluster();
  const task = c.seed<KubeObject>(TaskResource, {
    metadata: { namespace: NS, name: "fix" },
    spec: { description: "Fix it" },
    status: { jobName: "fix" },
  });
  const job = c.seed<KubeObject>(JobResource, {
    metadata: {
      namespace: NS,
      name: "fix",
      ownerReferences: [controllerReference(task, TaskResource)],
    },
  });
  const pod = (name: string, uid: string, created: string) =>
    c.seed(PodResource, {
      metadata: {
        namespace: NS,
        name,
        creationTimestamp: created,
        labels: {
          "batch.kubernetes.io/controller-uid": uid,
          "batch.kubernetes.io/job-name": "fix",
        },
      },
    });
  pod("fix-abcde", job.metadata!.uid!, "2030-01-01T00:00:01Z");
  // A pod of an earlier Job "fix" (its Task deleted and created again), still terminating.
  pod("fix-old", "uid-of-an-earlier-job", "2030-01-01T00:00:02Z");
  const session = { client: { ...c.liveReader }, namespace: NS } as unknown as Session;
  return { c, task, session };
}

Deno.test("cli: the agent pod is the Task's Job's own, selected by the Job's uid", async () => {
  const { task, session } = setup();
  assert.equal((await agentPod(session, task))?.metadata?.name, "fix-abcde");
});

Deno.test("cli: no agent pod for a Job the Task does not control, or none yet", async () => {
  const { c, task, session } = setup();
  c.mutate(JobResource, NS, "fix", (j) => delete j.metadata!.ownerReferences);
  assert.equal(await agentPod(session, task), undefined);
  assert.equal(await agentPod(session, { ...task, status: {} }), undefined);
});
