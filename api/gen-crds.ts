// `deno task crds`: writes the CRDs generated from the zod schemas in
// api/v1alpha1 into the installers (deploy/crds for kustomize, the Helm
// chart's crds/), and removes CRD files of kinds that no longer exist; also
// the Agent admission policy (api/crdgen/agent_policy.ts) for both.
import { CRD_DIRS, renderInstallerFiles } from "./crdgen/render.ts";

const root = new URL("../", import.meta.url);

if (import.meta.main) {
  const files = renderInstallerFiles();
  for (const dir of CRD_DIRS) {
    await Deno.mkdir(new URL(dir, root), { recursive: true });
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}/${entry.name}`;
      if (entry.name.endsWith(".kubetask.io.yaml") && !files.has(path)) {
        await Deno.remove(new URL(path, root));
        console.log(`removed ${path}`);
      }
    }
  }
  for (const [path, content] of files) {
    await Deno.writeTextFile(new URL(path, root), content);
    console.log(`wrote ${path}`);
  }
}
