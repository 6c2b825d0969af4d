// The gateway's reads and writes of Tasks: status.usage kept current (a merge
// patch of the status subresource under its own field manager, guarded by the
// Task's uid so a re-created namesake is never written), Tasks found for
// transcripts, and who may read a Task's transcript: whoever may `get` the
// Task, asked of the apiserver for the reader's own token.
import { TaskResource } from "../controllers/kinds.ts";
import { resourcePath } from "../controllers/runtime/resources.ts";
import type { LiveReader } from "../controllers/runtime/types.ts";
import type { ApiTransport } from "../controllers/runtime/transport.ts";
import { accessAllowed, reviewToken } from "../controllers/runtime/reviews.ts";
import { rfc3339 } from "../controllers/runtime/conditions.ts";
import type { TaskUsage } from "../api/v1alpha1/index.ts";
import { formatUSD } from "./money.ts";
import type { AuthorizeReader, ResolveTask, TaskExists, Usage, UsageWriter } from "./types.ts";

export const FIELD_MANAGER = "kubetask-gateway";
/** The header the CLI sends the reader's bearer token in (the apiserver's proxy keeps Authorization). */
export const READER_TOKEN_HEADER = "x-kubetask-user-authorization";

/** The gateway's figures as status.usage says them. */
export function statusUsage(usage: Usage, now: Date, budgetExceeded?: string): TaskUsage {
  return {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cacheReadTokens: usage.cacheReadTokens,
    cacheWriteTokens: usage.cacheWriteTokens,
    costUSD: formatUSD(usage.costNanoUSD),
    ...(usage.model ? { model: usage.model.slice(0, 128) } : {}),
    requests: usage.requests,
    source: "Gateway",
    updateTime: rfc3339(now),
    ...(budgetExceeded ? { budgetExceeded: budgetExceeded.slice(0, 1024) } : {}),
  };
}

export class ApiTaskStatusWriter implements UsageWriter {
  constructor(private readonly transport: ApiTransport, private readonly now = () => new Date()) {}

  async write(
    namespace: string,
    task: string,
    taskUid: string,
    usage: Usage,
    budgetExceeded?: string,
  ): Promise<void> {
    await this.transport.json("PATCH", `${resourcePath(TaskResource, namespace, task)}/status`, {
      query: { fieldManager: FIELD_MANAGER },
      contentType: "application/merge-patch+json",
      body: {
        // A precondition: the apiserver refuses the patch (409) for another Task of this name.
        metadata: { uid: taskUid },
        status: { usage: statusUsage(usage, this.now(), budgetExceeded) },
      },
    });
  }
}

export function taskResolver(client: LiveReader): ResolveTask {
  return async (namespace, name) => {
    const task = await client.get(TaskResource, namespace, name);
    return task?.metadata?.uid ? { uid: task.metadata.uid } : undefined;
  };
}

/** Whether a Task of this uid still exists in its namespace (one list per call). */
export function taskExistence(client: LiveReader): TaskExists {
  return async (namespace, uid) =>
    (await client.list(TaskResource, namespace)).some((t) => t.metadata?.uid === uid);
}

export function readerAuthorizer(transport: ApiTransport): AuthorizeReader {
  return async (request, namespace, task) => {
    const token = request.headers.get(READER_TOKEN_HEADER)?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (!token) {
      return {
        ok: false,
        status: 401,
        reason: `send your bearer token in ${READER_TOKEN_HEADER} (kubectl kubetask transcript ` +
          "does; a client-certificate identity cannot be checked by the gateway)",
      };
    }
    const who = await reviewToken(transport, token);
    if (!who.authenticated) return { ok: false, status: 401, reason: "token not authenticated" };
    const allowed = await accessAllowed(transport, who.user, {
      resourceAttributes: {
        namespace,
        verb: "get",
        group: "kubetask.io",
        resource: "tasks",
        name: task,
      },
    });
    return allowed ? { ok: true } : {
      ok: false,
      status: 403,
      reason: `${who.user.username} may not get Task ${namespace}/${task}`,
    };
  };
}
