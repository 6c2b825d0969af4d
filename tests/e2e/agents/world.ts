// One e2e world for a real agent CLI: the local git server with a fresh copy
// of the demo project, the scripted model server on the real node's bridge,
// and a Task harness whose clone image is the project's own.
import {
  agentOnRealNode,
  PROJECT_DIR,
  PROJECT_FILES,
  shippedAgent,
} from "../../../localcluster/demo_project.ts";
import { type GitServer, startGitServer } from "../../../localcluster/git_server.ts";
import {
  type ModelServer,
  type Script,
  startModelServer,
} from "../../../localcluster/model_server/mod.ts";
import {
  AGENT_SA,
  type HarnessOptions,
  type Json,
  TaskHarness,
} from "../../integration/task/harness.ts";
import { REAL_NODE_SETTINGS, realNode } from "../real_node.ts";
import type { CliCase } from "./cli_cases.ts";

export interface World {
  h: TaskHarness;
  gitServer: GitServer;
  model: ModelServer;
  /** The project's repository name on the git server. */
  project: string;
  /** The API key the Agent's Secret holds. */
  key: string;
  /** The shipped Agent's name. */
  agentName: string;
  /** Creates the shipped Agent and its Secret, pointed at the model server. */
  agent(): Promise<void>;
  /** A Task on the project whose description carries `marker` (and `spec`'s further fields). */
  task(name: string, marker: string, spec?: Json): Promise<void>;
  close(): Promise<void>;
}

/** `harness`: where the operator runs (default: in-process, with the project's clone image). */
export async function startWorld(
  c: CliCase,
  scripts: Script[],
  harness: HarnessOptions = {},
): Promise<World> {
  const address = realNode!.gateway;
  const gitServer = await startGitServer(address);
  const project = `calc-${crypto.randomUUID().slice(0, 6)}`;
  const url = await gitServer.addRepository(project, PROJECT_FILES);
  const model = await startModelServer({ hostname: address, scripts });
  const h = await TaskHarness.start({ settings: () => REAL_NODE_SETTINGS, ...harness });
  const { secret, agent } = await shippedAgent(c.cli);
  const key = `sk-e2e-${crypto.randomUUID().slice(0, 8)}`;
  return {
    h,
    gitServer,
    model,
    project,
    key,
    agentName: agent.metadata.name,
    async agent() {
      await h.apply({ ...secret, stringData: c.secret(key, gitServer.token, model.url) });
      await h.agent(agent.metadata.name, {
        ...agentOnRealNode(agent, secret.metadata.name, AGENT_SA, c.env),
        ...(c.command ? { command: c.command } : {}),
      });
    },
    async task(name, marker, spec = {}) {
      await h.context(`${name}-src`, { type: "Git", git: { repository: url, ref: "main" } });
      await h.task(name, {
        agentRef: agent.metadata.name,
        description: `Make the tests of the calc project pass (${marker}).`,
        contexts: [{ name: `${name}-src`, mountPath: PROJECT_DIR }],
        ...spec,
      });
    },
    async close() {
      await h.cleanup();
      await model.close();
      await gitServer.close();
    },
  };
}
