// The real node uses what the machine already has and apt-get only adds:
// a runc anywhere on PATH (a Docker install's) is accepted as it is, and an
// install that would remove or replace an installed package is refused.
import assert from "assert";
import { join } from "node:path";
import {
  aptInstallArgs,
  commandOnPath,
  missingPackages,
  packagesTouched,
} from "../../../localcluster/realnode/host.ts";

Deno.test("host: runc and containerd are found on PATH, wherever they are", async () => {
  const bin = await Deno.makeTempDir({ prefix: "kubetask-path-" });
  try {
    for (const name of ["runc", "containerd"]) {
      await Deno.writeTextFile(join(bin, name), "#!/bin/sh\n", { mode: 0o755 });
    }
    await Deno.writeTextFile(join(bin, "not-executable"), "", { mode: 0o644 });
    assert.equal(await commandOnPath("runc", `/nonexistent:${bin}`), join(bin, "runc"));
    assert.equal(await commandOnPath("not-executable", bin), undefined);
    const withOwn = await missingPackages(bin);
    assert.ok(!withOwn.includes("runc") && !withOwn.includes("containerd"), String(withOwn));
    const without = await missingPackages("/nonexistent");
    assert.ok(without.includes("runc") && without.includes("containerd"), String(without));
    // A fresh machine may lack iptables (the bridge's masquerade and the NetworkPolicy engine use it).
    assert.ok(without.includes("iptables"), String(without));
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("host: apt-get never removes a package, and only installs what is missing", () => {
  assert.deepEqual(aptInstallArgs(["runc"]), [
    "install",
    "-y",
    "--no-remove",
    "--no-install-recommends",
    "runc",
  ]);
  assert.deepEqual(aptInstallArgs(["runc"], true).slice(0, 3), [
    "install",
    "--simulate",
    "--no-remove",
  ]);
});

Deno.test("host: a plan that removes or upgrades an installed package is seen", () => {
  // What `apt-get install --simulate runc` says on a machine with Docker's containerd.io.
  const replacesDocker = [
    "NOTE: This is only a simulation!",
    "Remv containerd.io [1.7.27-1]",
    "Inst runc (1.1.5+ds1-1+deb12u1 Debian:12.11/stable [amd64])",
    "Inst libc6 [2.36-9+deb12u9] (2.36-9+deb12u10 Debian:12.11/stable [amd64])",
    "Conf runc (1.1.5+ds1-1+deb12u1 Debian:12.11/stable [amd64])",
  ].join("\n");
  assert.deepEqual(packagesTouched(replacesDocker), ["containerd.io", "libc6"]);
  const onlyAdds = [
    "Inst busybox-static (1:1.35.0-4+b3 Debian:12.11/stable [amd64])",
    "Conf busybox-static (1:1.35.0-4+b3 Debian:12.11/stable [amd64])",
  ].join("\n");
  assert.deepEqual(packagesTouched(onlyAdds), []);
});
