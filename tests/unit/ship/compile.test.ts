// deploy/compile.ts grants the binary only net/env/read/run, the uid, and writing in the
// gateway's transcript folder, and never fakes a build.
import assert from "assert";
import { join } from "node:path";
import {
  compile,
  compileArgs,
  GATEWAY_DATA_DIR,
  isRuntimeDownloadFailure,
  OUTPUT,
  RUNTIME_PERMISSIONS,
  RUNTIME_V8_FLAGS,
} from "../../../deploy/compile.ts";
import { repoRoot } from "./manifests.ts";

Deno.test("the compiled operator gets exactly --allow-net, --allow-env, --allow-read, --allow-run, --allow-sys=uid and writes in the gateway's folder", () => {
  const args = compileArgs();
  // sys: only the uid (node:fs access checks, see runtime_flags.ts), nothing else of the system.
  const expected = [
    "--allow-env",
    "--allow-net",
    "--allow-read",
    "--allow-run",
    "--allow-sys=uid",
    "--allow-write=/var/lib/kubetask-gateway",
  ];
  assert.deepEqual([...RUNTIME_PERMISSIONS].sort(), expected);
  const permissionFlags = args.filter((a) =>
    a.startsWith("--allow") || a === "-A" || a.startsWith("--deny")
  );
  assert.deepEqual(permissionFlags.sort(), expected);
  for (
    const forbidden of [
      "-A",
      "--allow-all",
      "--allow-ffi",
      "--allow-sys",
    ]
  ) {
    assert.ok(
      !args.some((a) =>
        a === forbidden || (a.startsWith(`${forbidden}=`) && !expected.includes(a))
      ),
      `${forbidden} absent`,
    );
  }
  // Writing: nowhere but the gateway's folder (never the whole filesystem).
  assert.deepEqual(args.filter((a) => a.startsWith("--allow-write")), [
    `--allow-write=${GATEWAY_DATA_DIR}`,
  ]);
  assert.equal(args[0], "compile");
  assert.equal(args[args.indexOf("--output") + 1], "dist/kubetask");
  assert.equal(args.at(-1), "main.ts");
});

Deno.test("deno task compile runs deploy/compile.ts", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(repoRoot, "deno.json")));
  assert.match(config.tasks.compile, /\bdeploy\/compile\.ts$/);
  assert.equal(OUTPUT, join("dist", "kubetask"));
});

Deno.test("a failed runtime download is recognised from deno compile's error", () => {
  // What deno 2.9 prints when it cannot fetch the runtime (host name elided).
  const stderr = "error: Writing deno compile executable to temporary file 'out.tmp-1'\n\n" +
    "Caused by:\n    0: Setting up base binary.\n    1: error sending request for url " +
    "(https://example.invalid/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip)";
  assert.ok(isRuntimeDownloadFailure(stderr));
  assert.ok(!isRuntimeDownloadFailure("TS2307 [ERROR]: Cannot find module 'file:///x/main.ts'."));
});

Deno.test("compile leaves a working binary or none at all, never a stale one", async () => {
  const root = await Deno.makeTempDir({ prefix: "kubetask-compile-" });
  try {
    await Deno.writeTextFile(join(root, "hello.ts"), 'console.log("hello from kubetask");\n');
    await Deno.writeTextFile(join(root, "deno.json"), "{}\n");
    const output = join("dist", "hello");
    // A leftover from an earlier build must not survive a failed one.
    await Deno.mkdir(join(root, "dist"));
    await Deno.writeTextFile(join(root, output), "stale");

    const result = await compile({ root, entry: "hello.ts", output, progress: async () => {} });
    const built = await Deno.stat(join(root, output)).catch(() => undefined);
    if (result.code === 0) {
      // Where the runtime download works: the binary runs.
      const run = await new Deno.Command(join(root, output), { stdout: "piped" }).output();
      assert.equal(new TextDecoder().decode(run.stdout).trim(), "hello from kubetask");
    } else {
      // Where it cannot (no internet): a clear message and no file at all.
      assert.equal(built, undefined, "no binary after a failed compile");
      assert.match(result.message ?? "", /denort/);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the operator's V8 flags are compiled in and used by `deno task dev`", async () => {
  const args = compileArgs();
  for (const flag of RUNTIME_V8_FLAGS) assert.ok(args.includes(flag), `${flag} compiled in`);
  const tasks = JSON.parse(await Deno.readTextFile(`${repoRoot}/deno.json`)).tasks;
  for (const flag of RUNTIME_V8_FLAGS) assert.ok(tasks.dev.includes(flag), `dev runs with ${flag}`);
});
