// The local image cache is shared by checkouts (each builds its own tarball of an image, from
// its own paths): a build removes only earlier builds nobody used for a day, never one another
// checkout is about to import.
import assert from "assert";
import { join } from "node:path";
import { pruneUnused, UNUSED_BUILD_TTL_MS } from "../../../localcluster/realnode/images.ts";

Deno.test("image cache: a new build prunes earlier builds unused for a day, nothing else", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = Date.now();
    const touch = async (name: string, ageMs: number) => {
      const path = join(dir, name);
      await Deno.writeTextFile(path, name);
      const at = new Date(now - ageMs);
      await Deno.utime(path, at, at);
      return path;
    };
    const current = await touch("agent-echo_1-aaaa.tar", 0);
    const otherCheckout = await touch("agent-echo_1-bbbb.tar", 3600_000);
    const abandoned = await touch("agent-echo_1-cccc.tar", UNUSED_BUILD_TTL_MS + 60_000);
    const otherImage = await touch("agent-echo_10-dddd.tar", UNUSED_BUILD_TTL_MS + 60_000);

    assert.deepEqual(await pruneUnused(dir, "agent-echo_1", current, now), [abandoned]);
    for (const kept of [current, otherCheckout, otherImage]) await Deno.stat(kept);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
