// What the shipped operator runs with, in each of its forms: compiled into the
// binary by `deno task compile` (deploy/compile.ts), passed to `deno run` by
// the image built from the bundle (localcluster/realnode/operator_image.ts),
// and by the bundle to itself when it resolves credentials (access.ts). Free
// of side effects and imports, so the operator can read it at run time.

/** The one folder the binary may write: the model gateway's transcript volume. */
export const GATEWAY_DATA_DIR = "/var/lib/kubetask-gateway";

/**
 * The operator talks to the apiserver and serves /metrics (net), reads the
 * in-cluster config from env and the service-account token or a kubeconfig
 * from disk (env, read), and runs itself once at start to resolve credentials
 * with client-node, which in turn may run a kubeconfig's exec plugin (run;
 * see access.ts). In a pod, client-node finds the in-cluster configuration by
 * `fs.accessSync` of the token file, which Deno's node:fs implements by
 * comparing the file's owner with the process's uid: without sys access to
 * "uid" it fails, and client-node silently falls back to http://localhost:8080
 * (seen on the real node with the image built here; tests/unit/ship/
 * operator_image.test.ts replays it). The operator never writes files; the
 * same binary run as `kubetask gateway` writes transcripts, below
 * GATEWAY_DATA_DIR only (its volume in both installers, deploy/gateway/).
 */
export const RUNTIME_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  "--allow-sys=uid",
  `--allow-write=${GATEWAY_DATA_DIR}`,
] as const;

/**
 * V8 flags the operator runs with: compiled into the binary, and passed by
 * every `deno run` of main.ts (dev task, demo, tests, benchmark). Young
 * generation semi-spaces of 4 MiB instead of V8's default of up to 16 MiB:
 * measured on a burst of 300 Tasks, resident memory afterwards fell from ~118
 * to ~85 MiB with no measurable change in throughput. `--optimize-for-size`:
 * the heap grows less before a full collection, so garbage (large text read
 * live, list pages) does not pile up between collections: with 1,000 Tasks
 * of 200 KiB and 1,000 Contexts of 256 KiB the peak fell from 233 to 140 MiB,
 * and 10,000 Tasks cached from 153 to 121 MiB, with no slower burst seen
 * (README, Operating at scale).
 */
export const RUNTIME_V8_FLAGS = [
  "--v8-flags=--max-semi-space-size=4,--optimize-for-size",
] as const;

/**
 * `deno run` flags that make the bundle behave as the compiled binary does:
 * its permissions and V8 flags, never a permission prompt (a compiled binary
 * has none; a missing grant is an error), and no deno.json picked up from the
 * working directory (a compiled binary reads none).
 */
export const BUNDLE_RUN_FLAGS = [
  "--no-prompt",
  "--no-config",
  ...RUNTIME_PERMISSIONS,
  ...RUNTIME_V8_FLAGS,
] as const;
