// Reads the deploy/ manifests for the ship tests.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const deployDir = join(repoRoot, "deploy");

// deno-lint-ignore no-explicit-any
export type Doc = Record<string, any>;

/** Every YAML document in a file, as plain objects (empty documents skipped). */
export async function readDocs(path: string): Promise<Doc[]> {
  const text = await Deno.readTextFile(path);
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`${path}: ${d.errors[0].message}`);
    return d.toJS() as Doc;
  }).filter((d) => d !== null && d !== undefined);
}

/** Every object `kubectl apply -k deploy/` would send, following sub-kustomizations. */
export async function kustomizeObjects(dir = deployDir): Promise<Doc[]> {
  const [kustomization] = await readDocs(join(dir, "kustomization.yaml"));
  const objects: Doc[] = [];
  for (const entry of kustomization.resources as string[]) {
    const path = join(dir, entry);
    if ((await Deno.stat(path)).isDirectory) objects.push(...await kustomizeObjects(path));
    else objects.push(...await readDocs(path));
  }
  return objects;
}

/**
 * A rule list in a comparable form: one "group/resource: verbs" line per pair
 * (or "url:/path: verbs" for a non-resource URL), sorted.
 */
export function flattenRules(rules: Doc[]): string[] {
  const lines: string[] = [];
  for (const rule of rules) {
    for (const url of rule.nonResourceURLs ?? []) {
      lines.push(`url:${url}: ${[...rule.verbs].sort().join(",")}`);
    }
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources) {
        lines.push(`${group || "core"}/${resource}: ${[...rule.verbs].sort().join(",")}`);
      }
    }
  }
  return lines.sort();
}

export interface Instruction {
  op: string;
  args: string;
}

/** A Dockerfile's stages as lists of instructions (comments and continuations handled). */
export async function dockerfileStages(path: string): Promise<Instruction[][]> {
  const text = await Deno.readTextFile(path);
  const logical = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const result: Instruction[][] = [];
  for (const line of logical) {
    const [op, ...rest] = line.split(/\s+/);
    const instruction = { op: op.toUpperCase(), args: rest.join(" ") };
    if (instruction.op === "FROM") result.push([]);
    // An ARG before the first FROM only parameterises FROM lines: no stage has it.
    result.at(-1)?.push(instruction);
  }
  return result;
}
