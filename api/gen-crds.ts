// Writes crds/*.yaml from the zod schemas in api/v1alpha1 (`deno task crds`).
import { renderCrdFiles } from "./crdgen/render.ts";

const outDir = new URL("../crds/", import.meta.url);

if (import.meta.main) {
  await Deno.mkdir(outDir, { recursive: true });
  for (const [name, content] of renderCrdFiles()) {
    await Deno.writeTextFile(new URL(name, outDir), content);
    console.log(`wrote crds/${name}`);
  }
}
