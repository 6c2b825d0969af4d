// Copies the generated CRDs (crds/, from `deno task crds`) to where the
// installers can reach them: kustomize refuses files outside its root and Helm
// only installs CRDs from a chart's own crds/ folder.
//
//   deno run --allow-read --allow-write deploy/sync-crds.ts
//
// tests/unit/ship/ fails when a copy drifts from crds/.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SOURCE_DIR = "crds";
/** Folders (relative to the repo root) that hold a copy of every CRD. */
export const COPY_DIRS = ["deploy/crds", "deploy/helm/kubetask/crds"];
const KUSTOMIZATION = "deploy/crds/kustomization.yaml";

/** The generated CRD files, by file name, in a stable order. */
export async function readSourceCrds(root = repoRoot): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(root, SOURCE_DIR))) {
    if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name);
  }
  for (const name of names.sort()) {
    files.set(name, await Deno.readTextFile(join(root, SOURCE_DIR, name)));
  }
  return files;
}

/** The sub-kustomization that deploy/kustomization.yaml includes as `crds`. */
export function crdKustomization(fileNames: string[]): string {
  return [
    "# Written by deploy/sync-crds.ts: the CRDs copied from crds/.",
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    "resources:",
    ...fileNames.map((name) => `  - ${name}`),
    "",
  ].join("\n");
}

async function sync(root: string): Promise<void> {
  const crds = await readSourceCrds(root);
  if (crds.size === 0) throw new Error(`no CRDs in ${SOURCE_DIR}/; run \`deno task crds\` first`);
  for (const dir of COPY_DIRS) {
    await Deno.mkdir(join(root, dir), { recursive: true });
    // Drop copies of CRDs that no longer exist.
    for await (const entry of Deno.readDir(join(root, dir))) {
      if (
        entry.name.endsWith(".yaml") && !crds.has(entry.name) && entry.name !== "kustomization.yaml"
      ) {
        await Deno.remove(join(root, dir, entry.name));
      }
    }
    for (const [name, text] of crds) await Deno.writeTextFile(join(root, dir, name), text);
  }
  await Deno.writeTextFile(join(root, KUSTOMIZATION), crdKustomization([...crds.keys()]));
  console.error(`[sync-crds] copied ${crds.size} CRDs to ${COPY_DIRS.join(", ")}`);
}

if (import.meta.main) await sync(repoRoot);
