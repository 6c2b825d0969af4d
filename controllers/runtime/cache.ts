// ctx.cache: reads answered by the informers, never by the apiserver.
import type { Informer } from "./informer.ts";
import type { CacheReader, KubeObject, ResourceType } from "./types.ts";

export function typeKey(t: ResourceType): string {
  return `${t.apiVersion}/${t.plural}`;
}

export class InformerCache implements CacheReader {
  constructor(private readonly informers: Map<string, Informer>) {}

  private informer(type: ResourceType): Informer {
    const inf = this.informers.get(typeKey(type));
    // Falling back to a live read here would hide a missing watch (and its events).
    if (!inf) throw new Error(`${type.plural} are not watched, so they are not in the cache`);
    return inf;
  }

  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): T | undefined {
    return this.informer(type).get(namespace, name) as T | undefined;
  }

  list<T extends KubeObject>(type: ResourceType, namespace: string): T[] {
    return this.informer(type).list(namespace) as T[];
  }

  byIndex<T extends KubeObject>(type: ResourceType, index: string, value: string): T[] {
    return this.informer(type).byIndex(index, value) as T[];
  }
}
