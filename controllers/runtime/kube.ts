// KubeClient over the apiserver's REST API (see transport.ts for why raw).
import { resourcePath } from "./resources.ts";
import type { ApiTransport } from "./transport.ts";
import {
  type DeleteOptions,
  type KubeClient,
  type KubeObject,
  NotFoundError,
  type ResourceType,
} from "./types.ts";

const MERGE_PATCH = "application/merge-patch+json";

/** List items come back without apiVersion/kind; put them back so objects are self-describing. */
function withTypeMeta<T extends KubeObject>(type: ResourceType, obj: T): T {
  return { ...obj, apiVersion: obj.apiVersion ?? type.apiVersion, kind: obj.kind ?? type.kind };
}

export class RestKubeClient implements KubeClient {
  constructor(readonly transport: ApiTransport) {}

  async get<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
  ): Promise<T | undefined> {
    try {
      return withTypeMeta(
        type,
        await this.transport.json<T>("GET", resourcePath(type, namespace, name)),
      );
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    opts: { labelSelector?: string } = {},
  ): Promise<T[]> {
    const list = await this.transport.json<{ items?: T[] }>("GET", resourcePath(type, namespace), {
      query: { labelSelector: opts.labelSelector },
    });
    return (list.items ?? []).map((item) => withTypeMeta(type, item));
  }

  async create<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    const body = withTypeMeta(type, obj);
    const ns = obj.metadata?.namespace ?? "";
    return withTypeMeta(
      type,
      await this.transport.json<T>("POST", resourcePath(type, ns), { body }),
    );
  }

  async patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: unknown,
  ): Promise<T> {
    const res = await this.transport.json<T>("PATCH", resourcePath(type, namespace, name), {
      body: patch,
      contentType: MERGE_PATCH,
    });
    return withTypeMeta(type, res);
  }

  async updateStatus<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    const ns = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    const path = `${resourcePath(type, ns, name)}/status`;
    return withTypeMeta(
      type,
      await this.transport.json<T>("PUT", path, { body: withTypeMeta(type, obj) }),
    );
  }

  async delete(
    type: ResourceType,
    namespace: string,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<void> {
    const body: Record<string, unknown> = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: opts.propagationPolicy ?? "Background",
    };
    if (opts.uid) body.preconditions = { uid: opts.uid };
    try {
      await this.transport.json("DELETE", resourcePath(type, namespace, name), { body });
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }
}
