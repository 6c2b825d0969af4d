// --apply-crds: create or update our CRDs and wait until the apiserver serves
// them, so `deno task dev` works on an empty cluster. The CRDs are built in
// process from the kind registry, the same objects `deno task crds` writes
// into the installers (a drift test keeps the files equal to them), so the
// binary carries them without reading any file.
//
// It lives outside the runtime, which knows nothing about our kinds, and in a
// file of its own: main.ts loads it only for --apply-crds, so the generator is
// not resident while reconciling.
import { buildCrd } from "../api/crdgen/crd.ts";
import { KINDS } from "../api/kinds.ts";
import { CustomResourceDefinitionResource as CrdResource } from "./runtime/resources.ts";
import {
  AlreadyExistsError,
  type KubeClient,
  type KubeObject,
  type Logger,
} from "./runtime/types.ts";

export function ourCrds(): KubeObject[] {
  return KINDS.map((def) => buildCrd(def) as KubeObject);
}

export async function applyCrds(
  client: KubeClient,
  crds: KubeObject[],
  log: Logger,
  timeoutMs = 60_000,
): Promise<void> {
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    try {
      await client.create(CrdResource, crd);
      log.info("created CRD", { name });
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      await client.patch(CrdResource, "", name, crd);
      log.info("updated CRD", { name });
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    for (;;) {
      const got = await client.get<KubeObject>(CrdResource, "", name);
      const established = got?.status?.conditions?.some((c: { type: string; status: string }) =>
        c.type === "Established" && c.status === "True"
      );
      if (established) break;
      if (Date.now() > deadline) {
        throw new Error(`CRD ${name} not established after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
