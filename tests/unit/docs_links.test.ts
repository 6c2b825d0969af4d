// Relative links in the README and docs/ must resolve inside the repository,
// so they work in a fresh clone (nothing may point outside it).
import assert from "assert";
import { dirname, join, relative, resolve } from "node:path";
import { repoRoot } from "../../localcluster/paths.ts";

async function markdownFiles(): Promise<string[]> {
  const files = [join(repoRoot, "README.md"), join(repoRoot, "deploy", "RBAC.md")];
  for await (const entry of Deno.readDir(join(repoRoot, "docs"))) {
    if (entry.name.endsWith(".md")) files.push(join(repoRoot, "docs", entry.name));
  }
  return files;
}

Deno.test("docs: every relative link resolves to a file in the repository", async () => {
  const files = await markdownFiles();
  assert.ok(files.length >= 3);
  let checked = 0;
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
      const path = resolve(dirname(file), target.split("#")[0]);
      const where = `${relative(repoRoot, file)} → ${target}`;
      assert.ok(!relative(repoRoot, path).startsWith(".."), `${where} leaves the repository`);
      assert.ok(await Deno.stat(path).catch(() => undefined), `${where} does not exist`);
      checked++;
    }
  }
  assert.ok(checked >= 3, "the README links to the docs");
});
