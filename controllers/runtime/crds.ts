// --apply-crds: create or update the CRDs in crds/*.yaml and wait until the
// apiserver serves them, so `deno task dev` works on an empty cluster.
import { parseAllDocuments } from "yaml";
import { join } from "node:path";
import {
  AlreadyExistsError,
  type KubeClient,
  type KubeObject,
  type Logger,
  type ResourceType,
} from "./types.ts";

const CrdResource: ResourceType = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  plural: "customresourcedefinitions",
  namespaced: false,
};

export async function applyCrds(
  client: KubeClient,
  dir: string,
  log: Logger,
  timeoutMs = 60_000,
): Promise<void> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) files.push(join(dir, entry.name));
  }
  const names: string[] = [];
  for (const file of files.sort()) {
    for (const doc of parseAllDocuments(await Deno.readTextFile(file))) {
      const crd = doc.toJS() as KubeObject | null;
      if (crd?.kind !== "CustomResourceDefinition") continue;
      const name = crd.metadata!.name!;
      try {
        await client.create(CrdResource, crd);
        log.info("created CRD", { name });
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        await client.patch(CrdResource, "", name, crd);
        log.info("updated CRD", { name });
      }
      names.push(name);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
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
