// The checked-in crds/*.yaml must be exactly what `deno task crds` writes, so a
// schema change without regenerating fails here instead of in the cluster.
import assert from "assert";
import { renderCrdFiles } from "../../../api/crdgen/render.ts";

const crdsDir = new URL("../../../crds/", import.meta.url);

Deno.test("crds/*.yaml match the generator output (run `deno task crds` to fix)", async () => {
  for (const [name, expected] of renderCrdFiles()) {
    const actual = await Deno.readTextFile(new URL(name, crdsDir)).catch(() => "<missing>");
    assert.equal(actual, expected, `crds/${name} is stale; run \`deno task crds\``);
  }
});

Deno.test("crds/ holds no kubetask.io CRD the generator does not produce", async () => {
  const generated = new Set(renderCrdFiles().keys());
  for await (const entry of Deno.readDir(crdsDir)) {
    if (entry.name.endsWith(".kubetask.io.yaml")) {
      assert.ok(generated.has(entry.name), `crds/${entry.name} is not generated; delete it`);
    }
  }
});
