// How the operator runs its access resolver in each form it ships in: the
// compiled binary runs itself, the bundle runs itself through `deno run` with
// the compiled binary's flags, the source tree runs access_resolver.ts.
import assert from "assert";
import { RESOLVE_ACCESS_COMMAND, resolverCommand } from "../../../controllers/runtime/access.ts";
import { BUNDLE_RUN_FLAGS } from "../../../controllers/runtime/runtime_flags.ts";

const opts = { kubeconfig: "/k", context: "c" };

Deno.test("access resolver: a compiled binary runs itself with the hidden subcommand", () => {
  assert.deepEqual(
    resolverCommand(opts, {
      execPath: "/kubetask",
      mainModule: "file:///src/main.ts",
      moduleUrl: "file:///src/controllers/runtime/access.ts",
    }),
    ["/kubetask", RESOLVE_ACCESS_COMMAND, "/k", "c"],
  );
});

Deno.test("access resolver: a bundle runs itself through deno with the compiled binary's flags", () => {
  assert.deepEqual(
    resolverCommand(opts, {
      execPath: "/usr/local/bin/deno",
      mainModule: "file:///kubetask.js",
      moduleUrl: "file:///kubetask.js",
    }),
    [
      "/usr/local/bin/deno",
      "run",
      "--quiet",
      ...BUNDLE_RUN_FLAGS,
      "/kubetask.js",
      RESOLVE_ACCESS_COMMAND,
      "/k",
      "c",
    ],
  );
  const flags: readonly string[] = BUNDLE_RUN_FLAGS;
  for (const broad of ["-A", "--allow-all", "--allow-write"]) assert.ok(!flags.includes(broad));
});

Deno.test("access resolver: from source, deno runs access_resolver.ts beside access.ts", () => {
  assert.deepEqual(
    resolverCommand({}, {
      execPath: "/opt/deno",
      mainModule: "file:///src/main.ts",
      moduleUrl: "file:///src/controllers/runtime/access.ts",
    }),
    ["/opt/deno", "run", "--quiet", "-A", "/src/controllers/runtime/access_resolver.ts", "", ""],
  );
});
