// Who calls the gateway: a pod-bound token mapped through pod -> Job -> Task
// -> Agent -> provider, every link by uid, and how long a decision is kept.
import assert from "assert";
import { AgentIdentities, IDENTITY_TTL_MS } from "../../../gateway/identity.ts";
import type { ProviderCatalog } from "../../../gateway/providers.ts";
import type { Provider } from "../../../gateway/types.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import { AGENT_UID_LABEL } from "../../../api/v1alpha1/index.ts";
import type { ApiTransport } from "../../../controllers/runtime/transport.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import type { KubeClient, KubeObject, ResourceType } from "../../../controllers/runtime/types.ts";

const NS = "team-a";
const PROVIDER: Provider = {
  name: "anthropic",
  protocol: "anthropic-messages",
  upstreamURL: "https://model.example",
  key: "sk-real",
  prices: [],
  defaultMaxOutputTokens: 64_000,
};

/** A Running Task "fix" with its Job, pod and Agent, every link by uid. */
function world() {
  const objects = new Map<string, KubeObject>();
  const put = (kind: string, obj: KubeObject) => objects.set(`${kind}/${obj.metadata?.name}`, obj);
  put("Pod", {
    metadata: {
      name: "fix-abcde",
      namespace: NS,
      uid: "pod-uid",
      labels: { [AGENT_UID_LABEL]: "agent-uid" },
      ownerReferences: [
        { apiVersion: "batch/v1", kind: "Job", name: "fix", uid: "job-uid", controller: true },
      ],
    },
    spec: { serviceAccountName: "agent-sa" },
    status: { phase: "Running" },
  });
  put("Job", {
    metadata: {
      name: "fix",
      namespace: NS,
      uid: "job-uid",
      ownerReferences: [{
        apiVersion: TaskResource.apiVersion,
        kind: "Task",
        name: "fix",
        uid: "task-uid",
        controller: true,
      }],
    },
  });
  put("Task", {
    metadata: { name: "fix", namespace: NS, uid: "task-uid" },
    spec: { agentRef: "claude", description: "Fix it" },
    status: { phase: "Running", jobName: "fix" },
  });
  put("Agent", {
    metadata: { name: "claude", namespace: NS, uid: "agent-uid" },
    spec: { serviceAccountName: "agent-sa", modelProvider: "anthropic" },
  });
  return objects;
}

function identities(objects: Map<string, KubeObject>, onRead: () => void = () => {}) {
  let clock = 1_000_000;
  let reviews = 0;
  const transport = {
    json: () => {
      reviews++;
      onRead();
      return Promise.resolve({
        status: {
          authenticated: true,
          audiences: ["kubetask-gateway"],
          user: {
            username: `system:serviceaccount:${NS}:agent-sa`,
            extra: {
              "authentication.kubernetes.io/pod-name": ["fix-abcde"],
              "authentication.kubernetes.io/pod-uid": ["pod-uid"],
            },
          },
        },
      });
    },
  } as unknown as ApiTransport;
  const client = {
    get: (type: ResourceType, _ns: string, name: string) => {
      onRead();
      return Promise.resolve(objects.get(`${type.kind}/${name}`));
    },
  } as unknown as KubeClient;
  const providers: ProviderCatalog = {
    get: (name) =>
      Promise.resolve(
        name === PROVIDER.name
          ? { ok: true, provider: PROVIDER }
          : { ok: false, reason: `no provider ${name}` },
      ),
  };
  const ids = new AgentIdentities({
    transport,
    client,
    providers,
    audience: "kubetask-gateway",
    log: silentLogger,
    now: () => clock,
  });
  return {
    ids,
    reviews: () => reviews,
    advance: (ms: number) => clock += ms,
  };
}

function finish(objects: Map<string, KubeObject>) {
  const task = objects.get("Task/fix")!;
  objects.set("Task/fix", { ...task, status: { ...task.status, phase: "Completed" } });
}

Deno.test("identity: a running Task's pod token names its Task, Agent and provider", async () => {
  const { ids } = identities(world());
  const found = await ids.identify("token", "anthropic");
  assert.ok(found.ok);
  assert.equal(found.identity.task, "fix");
  assert.equal(found.identity.agent, "claude");
  assert.equal(found.identity.pod, "fix-abcde");
  assert.equal(found.identity.provider.key, "sk-real");
});

Deno.test("identity: kept for the TTL, then the Task's end refuses the same token", async () => {
  const objects = world();
  const { ids, reviews, advance } = identities(objects);
  assert.ok((await ids.identify("token", "anthropic")).ok);
  finish(objects);
  advance(IDENTITY_TTL_MS - 1);
  assert.ok((await ids.identify("token", "anthropic")).ok, "within the TTL: the kept decision");
  assert.equal(reviews(), 1);
  advance(1);
  const late = await ids.identify("token", "anthropic");
  assert.deepEqual(late, {
    ok: false,
    status: 401,
    reason: "Task team-a/fix has finished (Completed)",
  });
  assert.equal(reviews(), 2);
});

Deno.test("identity: a slow answer is kept the TTL from when it was asked, not answered", async () => {
  const objects = world();
  let slow = true;
  // Every read takes 2 s: the six of one decision take longer than the TTL.
  const t = identities(objects, () => slow && t.advance(2_000));
  assert.ok((await t.ids.identify("token", "anthropic")).ok);
  slow = false;
  finish(objects);
  // Answered more than a TTL after it was asked: what it saw is that old already.
  const again = await t.ids.identify("token", "anthropic");
  assert.equal(again.ok, false);
  assert.equal(t.reviews(), 2);
});

Deno.test("identity: another provider than the Agent's is 403; a pod that has ended is 401", async () => {
  const objects = world();
  const { ids } = identities(objects);
  assert.deepEqual(await ids.identify("token", "openai"), {
    ok: false,
    status: 403,
    reason: "Agent team-a/claude uses provider anthropic, not openai",
  });
  const pod = objects.get("Pod/fix-abcde")!;
  objects.set("Pod/fix-abcde", { ...pod, status: { phase: "Succeeded" } });
  assert.deepEqual(await ids.identify("other-token", "anthropic"), {
    ok: false,
    status: 401,
    reason: "pod team-a/fix-abcde has ended",
  });
});

Deno.test("identity: a Job whose uid differs from the pod's owner is no Task's", async () => {
  const objects = world();
  const job = objects.get("Job/fix")!;
  objects.set("Job/fix", { ...job, metadata: { ...job.metadata, uid: "a-namesake" } });
  const { ids } = identities(objects);
  assert.deepEqual(await ids.identify("token", "anthropic"), {
    ok: false,
    status: 401,
    reason: "pod team-a/fix-abcde is no Task's: no Job of ours controls it",
  });
});
