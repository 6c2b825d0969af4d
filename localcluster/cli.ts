// `deno task cluster up|down|env [name]`: the local control plane by hand.
import { down, readState, up } from "./cluster.ts";
import { CLUSTER_NAME } from "./paths.ts";

const [command, name = "default"] = Deno.args;

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

switch (command) {
  case "up": {
    const started = performance.now();
    const state = await up(name);
    console.error(
      `[cluster] ${name} is up at ${state.server} in ${
        ((performance.now() - started) / 1000).toFixed(1)
      }s`,
    );
    console.error(
      `[cluster] eval "$(deno task cluster env${name === "default" ? "" : " " + name})"`,
    );
    console.log(envLines(state.kubeconfig, state.kubectl));
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
    console.error("usage: deno task cluster up|down|env [name]");
    Deno.exit(2);
}
