// The gateway's reads and writes of NamespaceBudgets (cluster-scoped, named
// after the namespace they limit): read when a caller is identified (its
// limits and what its status counted), and spend added to the status: a PUT
// of the status subresource carrying the resourceVersion just read, so a
// write that raced another (a second gateway replica) gets a 409 and is made
// again from a fresh read. Nothing is ever overwritten, only added to.
import { namespaceBudget as namespaceBudgetSchema } from "../api/v1alpha1/index.ts";
import { NamespaceBudgetResource } from "../controllers/kinds.ts";
import { resourcePath } from "../controllers/runtime/resources.ts";
import { ConflictError, type KubeObject, type LiveReader } from "../controllers/runtime/types.ts";
import type { ApiTransport } from "../controllers/runtime/transport.ts";
import { rfc3339 } from "../controllers/runtime/conditions.ts";
import { addToCount } from "./namespace_ledger.ts";
import { FIELD_MANAGER } from "./tasks.ts";
import type { NamespaceCount, NamespaceLimits, PeriodDelta, SpendWriter } from "./types.ts";

/** Conflicts in a row before a write is left to the next interval. */
const MAX_CONFLICTS = 8;

/** A NamespaceBudget as the ledger takes it; undefined when absent or invalid (it limits nothing). */
export function namespaceLimitsOf(raw: KubeObject | undefined): NamespaceLimits | undefined {
  if (!raw) return undefined;
  const parsed = namespaceBudgetSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { spec, status } = parsed.data;
  return {
    limits: {
      ...(spec.daily ? { daily: spec.daily } : {}),
      ...(spec.monthly ? { monthly: spec.monthly } : {}),
    },
    counted: {
      ...(status?.daily ? { daily: status.daily } : {}),
      ...(status?.monthly ? { monthly: status.monthly } : {}),
    },
  };
}

/** The namespace's budget, read live (identity.ts, once per identity memo). */
export function readNamespaceBudget(
  client: LiveReader,
  namespace: string,
): Promise<NamespaceLimits | undefined> {
  return client.get(NamespaceBudgetResource, "", namespace).then(namespaceLimitsOf);
}

export class ApiSpendWriter implements SpendWriter {
  constructor(
    private readonly transport: ApiTransport,
    private readonly client: LiveReader,
    private readonly now = () => new Date(),
  ) {}

  async add(namespace: string, deltas: PeriodDelta[]): Promise<NamespaceCount | undefined> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const raw = await this.client.get(NamespaceBudgetResource, "", namespace);
      const read = namespaceLimitsOf(raw);
      if (!raw || !read) return undefined;
      const counted = addToCount(read.counted, deltas);
      try {
        await this.transport.json(
          "PUT",
          `${resourcePath(NamespaceBudgetResource, "", namespace)}/status`,
          {
            query: { fieldManager: FIELD_MANAGER },
            body: {
              apiVersion: NamespaceBudgetResource.apiVersion,
              kind: NamespaceBudgetResource.kind,
              // The resourceVersion read: a write in between makes this one a 409.
              metadata: { name: namespace, resourceVersion: raw.metadata?.resourceVersion },
              spec: raw.spec,
              status: { ...counted, updateTime: rfc3339(this.now()) },
            },
          },
        );
        return counted;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new Error(`NamespaceBudget ${namespace}: ${MAX_CONFLICTS} write conflicts in a row`);
  }
}
