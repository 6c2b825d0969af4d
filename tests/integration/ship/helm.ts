// The pinned helm (built from the Go module proxy) as the ship tests run it:
// its output, a rendered chart's objects, and one of them by kind and name.
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ensureHelm } from "../../../localcluster/binaries.ts";
import { deployDir } from "../../unit/ship/manifests.ts";

// deno-lint-ignore no-explicit-any
export type Doc = Record<string, any>;

export const chart = join(deployDir, "helm", "kubetask");

/** helm's stdout and stderr; a failure throws with both. */
export async function helm(...args: string[]): Promise<string> {
  const out = await new Deno.Command(await ensureHelm(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`helm ${args.join(" ")}:\n${text}`);
  return text;
}

/** `helm template ARGS`, as objects. */
export async function render(...args: string[]): Promise<Doc[]> {
  const text = await helm("template", ...args);
  return parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean);
}

export const named = (objects: Doc[], kind: string, name: string): Doc | undefined =>
  objects.find((o) => o.kind === kind && o.metadata?.name === name);
