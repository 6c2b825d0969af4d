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

/** The objects a kustomize Component (deploy/gateway/) adds, and its JSON patches with their targets. */
export async function componentParts(
  dir: string,
): Promise<{ objects: Doc[]; patches: { target: Doc; ops: Doc[] }[] }> {
  const [component] = await readDocs(join(dir, "kustomization.yaml"));
  if (component.kind !== "Component") throw new Error(`${dir} is not a kustomize Component`);
  const objects: Doc[] = [];
  for (const entry of component.resources as string[]) {
    objects.push(...await readDocs(join(dir, entry)));
  }
  const patches = [];
  for (const patch of component.patches ?? []) {
    patches.push({
      target: patch.target,
      ops: (await readDocs(join(dir, patch.path)))[0] as Doc[],
    });
  }
  return { objects, patches };
}

/** A JSON patch (the "add" operations kustomize components use here) applied to a copy of `doc`. */
export function applyJsonPatch(doc: Doc, ops: Doc[]): Doc {
  const copy = structuredClone(doc);
  for (const op of ops) {
    if (op.op !== "add") throw new Error(`unsupported patch op ${op.op}`);
    const keys = (op.path as string).split("/").slice(1);
    const last = keys.pop()!;
    // deno-lint-ignore no-explicit-any
    const parent = keys.reduce<any>((at, key) => {
      if (at?.[key] === undefined) throw new Error(`${op.path}: ${key} is absent`);
      return at[key];
    }, copy);
    if (Array.isArray(parent)) {
      if (last === "-") parent.push(op.value);
      else parent.splice(Number(last), 0, op.value);
    } else parent[last] = op.value;
  }
  return copy;
}

/** What `kubectl apply -k` sends for deploy/ with the Component in `dir` added. */
export async function kustomizeWithComponent(dir: string, base = deployDir): Promise<Doc[]> {
  const { objects, patches } = await componentParts(dir);
  const patched = (await kustomizeObjects(base)).map((o) =>
    patches.reduce(
      (doc, p) =>
        doc.kind === p.target.kind && doc.metadata?.name === p.target.name &&
          (p.target.namespace === undefined || doc.metadata?.namespace === p.target.namespace)
          ? applyJsonPatch(doc, p.ops)
          : doc,
      o,
    )
  );
  return [...patched, ...objects];
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
    // Names, when a rule is limited to some: "core/services[a,b]: get".
    const names = rule.resourceNames ? `[${[...rule.resourceNames].sort().join(",")}]` : "";
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources) {
        lines.push(`${group || "core"}/${resource}${names}: ${[...rule.verbs].sort().join(",")}`);
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
