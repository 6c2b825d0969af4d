// The layering docs/architecture.md promises: the runtime (controllers/runtime/)
// is the engine and knows nothing about Tasks. Its files import only each
// other and packages, never api/ (our kinds' schemas and registry) nor a
// controller (controllers/task, crontask, egress) nor the files beside them.
import assert from "assert";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../../localcluster/paths.ts";

const RUNTIME = join(repoRoot, "controllers", "runtime");

/** The module specifiers a file imports or re-exports, statically or dynamically. */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of source.matchAll(pattern)) found.push(m[1]);
  }
  return found;
}

Deno.test("layering: importSpecifiers finds static, type, multi-line, re-export and dynamic imports", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    "import {",
    "  c,",
    "  d,",
    '} from "../../api/c.ts";',
    'export { e } from "./e.ts";',
    'import "./side_effect.ts";',
    'const f = await import("./f.ts");',
    '// a comment: see "../status.ts"',
  ].join("\n");
  assert.deepEqual(importSpecifiers(source).sort(), [
    "../../api/c.ts",
    "../b.ts",
    "./a.ts",
    "./e.ts",
    "./f.ts",
    "./side_effect.ts",
  ]);
});

Deno.test("layering: controllers/runtime/ imports nothing from api/ or the controllers", async () => {
  const outside: string[] = [];
  let files = 0;
  for await (const entry of Deno.readDir(RUNTIME)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    files++;
    const path = join(RUNTIME, entry.name);
    for (const spec of importSpecifiers(await Deno.readTextFile(path))) {
      if (!spec.startsWith(".") && !spec.startsWith("/") && !spec.startsWith("file:")) continue;
      const target = spec.startsWith("file:") ? fileURLToPath(spec) : resolve(dirname(path), spec);
      if (dirname(target) !== RUNTIME) {
        outside.push(`${entry.name} imports ${relative(repoRoot, target)}`);
      }
    }
  }
  assert.ok(files > 10, `found only ${files} files in ${RUNTIME}`);
  assert.deepEqual(outside, [], "the runtime imports only its own files and packages");
});
