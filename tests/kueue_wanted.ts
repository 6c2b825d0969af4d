// Whether `deno task test` starts the real Kueue: when the run includes a test
// that needs it (a test file under tests/ outside tests/unit/ with "kueue" in
// its path), that is with no filters or a filter naming such a file or a folder
// holding one. KUBETASK_TEST_KUEUE=0 never starts it (those tests are then
// skipped), =1 always does.
import { join, relative, resolve } from "node:path";

/** The Kueue-needing test files, relative to `root`, from a walk of root/tests. */
export async function kueueTestFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(join(root, dir))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && path !== "tests/unit") await walk(path);
      else if (e.isFile && path.endsWith(".test.ts") && /kueue/i.test(path)) out.push(path);
    }
  };
  await walk("tests");
  return out.sort();
}

/** Pure: whether to start Kueue for these filters (paths as given to deno test). */
export function kueueWanted(
  filters: string[],
  setting: string | undefined,
  files: string[],
  root: string,
): boolean {
  if (setting === "0") return false;
  if (setting === "1") return true;
  if (filters.length === 0) return files.length > 0;
  return filters.some((f) => {
    const named = relative(root, resolve(root, f)).replace(/\/+$/, "");
    return files.some((p) => p === named || named === "" || p.startsWith(`${named}/`));
  });
}
