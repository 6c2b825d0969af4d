// Installs deploy/ with `kubectl apply -k` for a test and removes afterwards
// exactly what that apply created, except the CRDs (shared with everyone
// else's tests, so never deleted).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "assert";
import { parse, parseAllDocuments, stringify } from "yaml";
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
async function nonCrdObjects(dir: string): Promise<Obj[]> {
  const rendered = await kubectl(["kustomize", dir]);
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

/** Applies deploy/ (or a kustomization built on it, e.g. with the gateway's Component). */
export async function installDeploy(dir = deployDir): Promise<Installed> {
  // (Stale installer CRDs would overwrite everyone's: tests/unit/api/crds-up-to-date.test.ts.)
  const objects = await nonCrdObjects(dir);
  // Objects that already exist belong to someone else: leave them alone.
  const before = await existing(objects);
  const output = await kubectl(["apply", "-k", dir]);
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

/** The current kubeconfig, rewritten so every request impersonates `user` (e.g. a ServiceAccount). */
export async function impersonatingKubeconfig(dir: string, as: string): Promise<string> {
  const source = Deno.env.get("KUBECONFIG")?.split(":")[0];
  assert.ok(source, "KUBECONFIG is set (deno task test, or deno task cluster env)");
  const config = parse(await Deno.readTextFile(source));
  const context = config.contexts.find((c: { name: string }) =>
    c.name === config["current-context"]
  );
  const user = config.users.find((u: { name: string }) => u.name === context.context.user);
  user.user.as = as;
  // Relative certificate paths keep working from the new file's folder only if absolute.
  for (const cluster of config.clusters) {
    const ca = cluster.cluster["certificate-authority"];
    if (ca && !ca.startsWith("/")) {
      cluster.cluster["certificate-authority"] = join(source, "..", ca);
    }
  }
  const path = join(dir, `${as.replace(/[^a-z0-9-]/gi, "_")}.kubeconfig`);
  await Deno.writeTextFile(path, stringify(config));
  return path;
}
