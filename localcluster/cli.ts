// `deno task cluster up|down|env [name]`: the local control plane by hand.
//
// `up` starts a server process in its own session (`cluster serve NAME`,
// internal) that owns the cluster: every component is its child and dies with
// it, even by SIGKILL. It runs until `cluster down` or SIGINT, SIGTERM or
// SIGHUP, on which it tears everything down. `up` returns once the cluster is
// ready; a signal to `up` before that ends the server the same way.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { down, readState, up } from "./cluster.ts";
import { cacheDir, CLUSTER_NAME } from "./paths.ts";
import { tearDownOnSignals } from "./signals.ts";

// Flags may stand anywhere after the command: `up NAME --kueue`.
const flags = Deno.args.filter((a) => a.startsWith("--"));
const [command, name = "default"] = Deno.args.filter((a) => !a.startsWith("--"));
const KNOWN_FLAGS = ["--kueue"];
const unknown = flags.filter((f) => !KNOWN_FLAGS.includes(f));
if (unknown.length) {
  console.error(`[cluster] unknown flag ${unknown[0]} (known: ${KNOWN_FLAGS.join(", ")})`);
  Deno.exit(2);
}
const withKueue = flags.includes("--kueue");

// The name becomes a folder that `down` removes: refuse it before any path is built.
if (!CLUSTER_NAME.test(name)) {
  console.error(
    `[cluster] invalid cluster name ${JSON.stringify(name)}: it must match ${CLUSTER_NAME.source}`,
  );
  Deno.exit(2);
}

function envLines(kubeconfig: string, kubectl: string): string {
  const binDir = kubectl.slice(0, kubectl.lastIndexOf("/"));
  return `export KUBECONFIG=${kubeconfig}\nexport PATH=${binDir}:$PATH\n`;
}

/** The server's own output (a few lines per start and stop), overwritten by each `up`. */
function serverLog(name: string): string {
  return join(cacheDir(), "clusters", `${name}.up.log`);
}

/** Starts the server and shows its output until the cluster is ready (exit 0) or it fails. */
async function upInBackground(name: string, flags: string[]): Promise<never> {
  const started = performance.now();
  const log = serverLog(name);
  await Deno.mkdir(join(cacheDir(), "clusters"), { recursive: true });
  await Deno.writeTextFile(log, "");
  const server = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1 </dev/null',
      "sh",
      log,
      Deno.execPath(),
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "serve",
      name,
      ...flags,
    ],
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited: Deno.CommandStatus | undefined;
  server.status.then((s) => exited = s);
  tearDownOnSignals("cluster", async () => {
    server.kill("SIGTERM");
    await server.status;
  });
  let shown = 0;
  const show = async () => {
    const text = await Deno.readTextFile(log).catch(() => "");
    Deno.stderr.writeSync(new TextEncoder().encode(text.slice(shown)));
    shown = text.length;
  };
  while (true) {
    await new Promise((r) => setTimeout(r, 300));
    await show();
    const state = await readState(name);
    if (state?.ready && state.owner?.pid === server.pid) {
      console.error(
        `[cluster] ${name} is up at ${state.server} in ${
          ((performance.now() - started) / 1000).toFixed(1)
        }s (server pid ${server.pid}; its output: ${log})`,
      );
      console.error(
        `[cluster] eval "$(deno task cluster env${name === "default" ? "" : " " + name})"`,
      );
      console.log(envLines(state.kubeconfig, state.kubectl));
      Deno.exit(0);
    }
    if (exited) {
      await show();
      console.error(`[cluster] ${name} did not start (server exit ${exited.code})`);
      Deno.exit(1);
    }
  }
}

switch (command) {
  case "up":
    await upInBackground(name, flags);
    break;
  case "serve": {
    tearDownOnSignals("cluster", () => down(name));
    await up(name, { kueue: withKueue });
    console.error(`[cluster] ${name} is up; serving until cluster down or a signal`);
    // The components' exits are awaited already; this keeps the server alive without them too.
    setInterval(() => {}, 3_600_000);
    break;
  }
  case "down":
    await down(name);
    console.error(`[cluster] ${name} is down`);
    break;
  case "env": {
    const state = await readState(name);
    if (!state) {
      console.error(`[cluster] no cluster named ${name}; run: deno task cluster up`);
      Deno.exit(1);
    }
    console.log(envLines(state.kubeconfig, state.kubectl));
    break;
  }
  default:
    console.error("usage: deno task cluster up|down|env [name] [--kueue (with up)]");
    Deno.exit(2);
}
