// Installs deploy/ with `kubectl apply -k` for a test and removes afterwards
// exactly what that apply created, except the CRDs (shared with everyone
// else's tests, so never deleted).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { kubectl } from "../env.ts";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const deployDir = join(repoRoot, "deploy");

export const KINDS = [
  "tasks",
  "crontasks",
  "agents",
  "contexts",
  "contextgrants",
  "kubetaskconfigs",
  "modelproviders",
  "namespacebudgets",
];

export interface Installed {
  /** What `kubectl apply -k deploy/` printed. */
  output: string;
  /** Deletes the non-CRD objects this install created and waits until they are gone. */
  cleanup(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The rendered kustomization without its CRDs. */
async function nonCrdObjects(): Promise<Obj[]> {
  const rendered = await kubectl(["kustomize", deployDir]);
  return parseAllDocuments(rendered).map((d) => d.toJS() as Obj)
    .filter((o) => o && o.kind !== "CustomResourceDefinition");
}

const toYaml = (objects: Obj[]) => objects.map((o) => stringify(o)).join("---\n");

async function existing(objects: Obj[]): Promise<Set<string>> {
  const out = await kubectl(
    ["get", "--ignore-not-found", "-o", "json", "-f", "-"],
    toYaml(objects),
  );
  if (!out.trim()) return new Set();
  const parsed = JSON.parse(out);
  return new Set((parsed.items ?? [parsed]).map(key));
}

export async function installDeploy(): Promise<Installed> {
  // (Stale installer CRDs would overwrite everyone's: tests/unit/api/crds-up-to-date.test.ts.)
  const objects = await nonCrdObjects();
  // Objects that already exist belong to someone else: leave them alone.
  const before = await existing(objects);
  const output = await kubectl(["apply", "-k", deployDir]);
  await kubectl([
    "wait",
    "--for",
    "condition=Established",
    "--timeout=60s",
    ...KINDS.map((plural) => `crd/${plural}.kubetask.io`),
  ]);
  return {
    output,
    cleanup: async () => {
      const ours = objects.filter((o) => !before.has(key(o)));
      if (ours.length === 0) return;
      await kubectl(
        ["delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", "-"],
        toYaml(ours),
      );
    },
  };
}
