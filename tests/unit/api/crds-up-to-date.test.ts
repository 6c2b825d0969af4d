// The CRDs in the installers (kustomize's deploy/crds and the Helm chart's
// crds/) must be exactly what `deno task crds` writes, so a schema change
// without regenerating fails here instead of in a cluster.
import assert from "assert";
import { CRD_DIRS, renderInstallerFiles } from "../../../api/crdgen/render.ts";

const root = new URL("../../../", import.meta.url);

Deno.test("installer CRDs match the generator output (run `deno task crds` to fix)", async () => {
  const files = renderInstallerFiles();
  assert.ok(files.size >= 2 * 6 + 1, "six CRDs in each installer, and the kustomization");
  for (const [path, expected] of files) {
    const actual = await Deno.readTextFile(new URL(path, root)).catch(() => "<missing>");
    assert.equal(actual, expected, `${path} is stale; run \`deno task crds\``);
  }
});

Deno.test("installers hold no kubetask.io CRD the generator does not produce", async () => {
  const files = renderInstallerFiles();
  for (const dir of CRD_DIRS) {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}/${entry.name}`;
      if (entry.name.endsWith(".kubetask.io.yaml")) {
        assert.ok(files.has(path), `${path} is not generated; delete it`);
      }
    }
  }
});
