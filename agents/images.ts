// The images agents/ defines, built on this machine for the local real node:
// the same contents as each folder's Dockerfile, assembled from the host's
// files (busybox, git, bash, node and the libraries they link) and the pinned
// CLI packages, since no registry and no Docker engine are reachable here.
// Named as the published images are: $KUBETASK_IMAGE_PREFIX (default
// quay.io/kubetask) + /kubetask-agent-<name>, so an Agent written for a real
// cluster runs unchanged on the local node.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../localcluster/paths.ts";
import {
  addHostBinaries,
  addHostTree,
  busyboxBase,
  type ImageFile,
  type ImageSpec,
} from "../localcluster/realnode/images.ts";
import { type CliName, ensureCli, PINNED_CLIS } from "./clis.ts";

export const DEFAULT_IMAGE_PREFIX = "quay.io/kubetask";
const HOST_C_UTF8 = "/usr/lib/locale/C.utf8";
/** The unprivileged user every agent image runs as (and the Git clone, see controllers/task/git.ts). */
export const AGENT_UID = 65532;
/** Local builds of the project's own images are tagged so; `latest` would make the kubelet pull. */
export const LOCAL_TAG = "1";

export function imagePrefix(): string {
  return (Deno.env.get("KUBETASK_IMAGE_PREFIX") ?? DEFAULT_IMAGE_PREFIX).replace(/\/+$/, "");
}

/** prefix/kubetask-agent-<short>:<tag> */
export function agentImage(short: string, tag: string): string {
  return `${imagePrefix()}/kubetask-agent-${short}:${tag}`;
}

export const ECHO_AGENT_IMAGE = agentImage("echo", LOCAL_TAG);
export const GIT_IMAGE = `${imagePrefix()}/kubetask-git:${LOCAL_TAG}`;

/** What each agent CLI image holds besides the common base: its command and environment. */
export const CLI_IMAGES: Record<CliName, { short: string; command: string; env: string[] }> = {
  "claude-code": {
    short: "claude",
    command: "claude",
    env: ["DISABLE_AUTOUPDATER=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"],
  },
  codex: { short: "codex", command: "codex", env: [] },
  "gemini-cli": { short: "gemini", command: "gemini", env: [] },
  opencode: {
    short: "opencode",
    command: "opencode",
    env: ["OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_SHARE=1"],
  },
};

/** prefix/kubetask-agent-<short>:<the pinned CLI version> */
export function cliImage(cli: CliName): string {
  return agentImage(CLI_IMAGES[cli].short, PINNED_CLIS[cli].version);
}

export const CLAUDE_CODE_IMAGE = cliImage("claude-code");

const file = (path: string, mode = 0o644): ImageFile => ({ host: join(repoRoot, path), mode });

/** The echo agent (agents/echo). */
export function echoAgentSpec(): ImageSpec {
  const base = busyboxBase();
  base.files.set("usr/local/bin/echo-agent", file("agents/echo/echo-agent", 0o755));
  return {
    names: [ECHO_AGENT_IMAGE],
    ...base,
    dirs: new Map([["workspace", { mode: 0o755 }], ["tmp", { mode: 0o1777 }]]),
    entrypoint: ["/usr/local/bin/echo-agent"],
    env: ["PATH=/usr/local/bin:/bin"],
  };
}

/** git with its https helper and every library they link; `caBundle` is trusted for https. */
async function addGit(spec: ImageSpec, caBundle: string): Promise<void> {
  await addHostBinaries(spec, ["/usr/bin/git", "/usr/lib/git-core/git-remote-https"]);
  spec.symlinks.set("usr/lib/git-core/git-remote-http", "git-remote-https");
  spec.symlinks.set("usr/lib/git-core/git", "../../bin/git");
  spec.files.set("etc/ssl/certs/ca-certificates.crt", { text: caBundle, mode: 0o644 });
  spec.env.push("GIT_EXEC_PATH=/usr/lib/git-core");
}

/** The Git clone image (agents/git). */
export async function gitSpec(caBundle: string): Promise<ImageSpec> {
  const spec: ImageSpec = {
    names: [GIT_IMAGE],
    ...busyboxBase(),
    dirs: new Map([["tmp", { mode: 0o1777 }]]),
    entrypoint: ["/bin/sh"],
    env: ["PATH=/usr/bin:/bin"],
  };
  await addGit(spec, caBundle);
  return spec;
}

/**
 * What every CLI image has: busybox, bash, git, node and the kubetask-agent
 * entrypoint, a user 65532 with a writable home, the system git config.
 */
async function agentBase(names: string[], cli: string, caBundle: string): Promise<ImageSpec> {
  const base = busyboxBase();
  base.files.set("etc/passwd", {
    text:
      `root:x:0:0:root:/root:/bin/sh\nagent:x:${AGENT_UID}:${AGENT_UID}:agent:/home/agent:/bin/bash\n`,
    mode: 0o644,
  });
  base.files.set("etc/group", { text: `root:x:0:\nagent:x:${AGENT_UID}:\n`, mode: 0o644 });
  const spec: ImageSpec = {
    names,
    ...base,
    dirs: new Map([
      ["tmp", { mode: 0o1777 }],
      ["home/agent", { mode: 0o755, owner: AGENT_UID }],
      ["workspace", { mode: 0o755, owner: AGENT_UID }],
    ]),
    entrypoint: ["/usr/local/bin/kubetask-agent"],
    env: [
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=/home/agent",
      `KUBETASK_AGENT_CLI=${cli}`,
      "SHELL=/bin/bash",
      "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
    ],
    user: `${AGENT_UID}:${AGENT_UID}`,
    workingDir: "/workspace",
  };
  await addHostBinaries(spec, ["/usr/bin/bash", "/usr/bin/node"]);
  spec.symlinks.set("bin/bash", "../usr/bin/bash");
  spec.symlinks.set("usr/bin/env", "../../bin/busybox");
  await addGit(spec, caBundle);
  spec.files.set("etc/gitconfig", file("agents/gitconfig"));
  // The C.UTF-8 locale, which CLIs set for the commands they run.
  if (existsSync(HOST_C_UTF8)) addHostTree(spec, HOST_C_UTF8, HOST_C_UTF8.slice(1));
  for (const entry of walk(join(repoRoot, "agents/entrypoint"))) {
    spec.files.set(
      `usr/local/lib/kubetask-agent/${entry}`,
      file(`agents/entrypoint/${entry}`, entry === "kubetask-agent.mjs" ? 0o755 : 0o644),
    );
  }
  spec.symlinks.set(
    "usr/local/bin/kubetask-agent",
    "../lib/kubetask-agent/kubetask-agent.mjs",
  );
  return spec;
}

/** Files below `dir`, as paths relative to it. */
function walk(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory
      ? walk(join(dir, e.name), `${prefix}${e.name}/`)
      : e.isFile
      ? [`${prefix}${e.name}`]
      : []
  );
}

/**
 * An agent CLI's image (agents/<cli>): the base, the pinned package below
 * /usr/local/lib/<cli> with its program on PATH, and the libraries it links.
 */
export async function cliImageSpec(cli: CliName, caBundle: string): Promise<ImageSpec> {
  const installed = await ensureCli(cli);
  const { command, env } = CLI_IMAGES[cli];
  const spec = await agentBase([cliImage(cli)], cli, caBundle);
  addHostTree(spec, installed.dir, `usr/local/lib/${cli}`);
  const program = installed.executable.slice(installed.dir.length + 1);
  spec.symlinks.set(`usr/local/bin/${command}`, `../lib/${cli}/${program}`);
  // Native programs need their libraries; a static one or a script (gemini's bundle) has none.
  await addHostBinaries(spec, { [`usr/local/lib/${cli}/${program}`]: installed.executable });
  spec.env.push(...env);
  return spec;
}

/** Every image the real node gets, besides its sandbox. */
export async function agentImageSpecs(caBundle: string): Promise<ImageSpec[]> {
  const specs = [echoAgentSpec(), await gitSpec(caBundle)];
  for (const cli of Object.keys(CLI_IMAGES) as CliName[]) {
    specs.push(await cliImageSpec(cli, caBundle));
  }
  return specs;
}
