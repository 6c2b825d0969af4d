import assert from "assert";
import { kueueTestFiles, kueueWanted } from "../../kueue_wanted.ts";
import { repoRoot } from "../../../localcluster/paths.ts";

const root = "/repo";
const files = ["tests/e2e/kueue_quota.test.ts", "tests/integration/kueue/kueue.test.ts"];
const wanted = (filters: string[], setting?: string) => kueueWanted(filters, setting, files, root);

Deno.test("kueue wanted: a whole run and filters naming a Kueue test or a folder holding one", () => {
  assert.equal(wanted([]), true);
  assert.equal(wanted(["tests/"]), true);
  assert.equal(wanted(["./tests/integration"]), true);
  assert.equal(wanted(["tests/integration/kueue/"]), true);
  assert.equal(wanted(["/repo/tests/e2e/kueue_quota.test.ts"]), true);
  assert.equal(wanted(["tests/unit/", "tests/integration/kueue/kueue.test.ts"]), true);
});

Deno.test("kueue wanted: not for other filters, never with 0, always with 1", () => {
  assert.equal(wanted(["tests/unit/"]), false);
  assert.equal(wanted(["tests/integration/task/"]), false);
  assert.equal(wanted(["tests/e2e/lifecycle.test.ts"]), false);
  assert.equal(wanted(["tests/integration/kueue-other/"]), false);
  assert.equal(wanted([], "0"), false);
  assert.equal(wanted(["tests/integration/kueue/"], "0"), false);
  assert.equal(wanted(["tests/unit/"], "1"), true);
  assert.equal(kueueWanted([], undefined, [], root), false, "no Kueue test, no Kueue");
});

Deno.test("kueue wanted: the repository's Kueue tests are found, unit tests left out", async () => {
  const found = await kueueTestFiles(repoRoot);
  assert.ok(found.includes("tests/integration/kueue/kueue.test.ts"), found.join(","));
  assert.ok(!found.some((f) => f.startsWith("tests/unit/")), found.join(","));
});
