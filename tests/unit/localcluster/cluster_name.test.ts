// Cluster names are paths (`down` removes the cluster's folder): a name that
// could leave the clusters folder is refused before any path is built.
import assert from "assert";
import { join } from "node:path";
import { down, readState, up } from "../../../localcluster/cluster.ts";
import {
  checkClusterName,
  clusterStateDir,
  InvalidClusterName,
  repoRoot,
} from "../../../localcluster/paths.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** A scratch cache folder holding `clusters/` and, beside it, a `victim/` folder with a file. */
async function scratchCache(): Promise<{ cache: string; victimFile: string }> {
  const cache = await Deno.makeTempDir({ prefix: "kubetask-names-" });
  await Deno.mkdir(join(cache, "clusters"));
  await Deno.mkdir(join(cache, "victim"));
  const victimFile = join(cache, "victim", "precious.txt");
  await Deno.writeTextFile(victimFile, "keep me");
  return { cache, victimFile };
}

Deno.test("cluster names: `cluster down ../victim` is refused and the folder survives", async () => {
  const { cache, victimFile } = await scratchCache();
  try {
    for (const command of ["down", "up", "env"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "localcluster/cli.ts", command, "../victim"],
        cwd: repoRoot,
        env: { KUBETASK_CACHE_DIR: cache, KUBETASK_REAL_NODE: "0", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, `${command}: ${stderr}`);
      assert.match(stderr, /invalid cluster name "\.\.\/victim"/);
      assert.equal(await Deno.readTextFile(victimFile), "keep me", `${command} ../victim`);
    }
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("cluster names: up, down and readState refuse a path-like name themselves", async () => {
  const { cache, victimFile } = await scratchCache();
  const before = Deno.env.get("KUBETASK_CACHE_DIR");
  Deno.env.set("KUBETASK_CACHE_DIR", cache);
  try {
    await assert.rejects(down("../victim"), InvalidClusterName);
    await assert.rejects(readState("../victim"), InvalidClusterName);
    await assert.rejects(up("../victim", { realNode: false }), InvalidClusterName);
    assert.throws(() => clusterStateDir("../../.."), InvalidClusterName);
    assert.ok(await exists(victimFile));
  } finally {
    if (before === undefined) Deno.env.delete("KUBETASK_CACHE_DIR");
    else Deno.env.set("KUBETASK_CACHE_DIR", before);
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("cluster names: DNS-label names of at most 40 characters", () => {
  for (
    const good of ["default", "test", "a", "0", "secops-down", "rt-restart-1a2b3c", "a".repeat(40)]
  ) {
    assert.equal(checkClusterName(good), good);
  }
  for (
    const bad of [
      "",
      ".",
      "..",
      "../victim",
      "a/b",
      "/etc",
      "-a",
      "a-",
      "Test",
      "a_b",
      "a.b",
      "a b",
      "a\nb",
      "a".repeat(41),
    ]
  ) {
    assert.throws(() => checkClusterName(bad), InvalidClusterName, JSON.stringify(bad));
  }
});
