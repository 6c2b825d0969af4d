// The local cluster's keys, tokens and kubeconfigs make whoever reads them
// cluster admin: they are 0600 in 0700 folders, whatever the umask.
import assert from "assert";
import { join } from "node:path";
import { createPki } from "../../../localcluster/pki.ts";
import { makePrivateDir, writePrivateFile } from "../../../localcluster/private_files.ts";

const mode = async (path: string) => ((await Deno.stat(path)).mode ?? 0) & 0o777;

Deno.test("private files: the PKI's keys and token file are 0600 in a 0700 folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "kubetask-pki-" });
  try {
    const pki = await createPki(join(root, "pki"));
    assert.equal((await mode(join(root, "pki"))).toString(8), "700");
    for (
      const secret of [
        pki.caKey,
        pki.servingKey,
        pki.kubeletClientKey,
        pki.serviceAccountKey,
        pki.tokenFile,
      ]
    ) {
      assert.equal((await mode(secret)).toString(8), "600", secret);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("private files: rewritten, appended or made under a loose umask, still private", async () => {
  const root = await Deno.makeTempDir({ prefix: "kubetask-private-" });
  try {
    const dir = join(root, "cluster");
    await Deno.mkdir(dir, { mode: 0o755 });
    await makePrivateDir(dir); // an existing folder is narrowed too
    assert.equal((await mode(dir)).toString(8), "700");
    const file = join(dir, "admin.kubeconfig");
    await Deno.writeTextFile(file, "old", { mode: 0o644 });
    await writePrivateFile(file, "token: x\n");
    await writePrivateFile(file, "more\n", { append: true });
    assert.equal((await mode(file)).toString(8), "600");
    assert.equal(await Deno.readTextFile(file), "token: x\nmore\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
