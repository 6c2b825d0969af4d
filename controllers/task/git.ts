// Git contexts: an init container clones the repository into an emptyDir
// that the agent container then mounts (the operator itself never clones).
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { GitContext } from "../../api/v1alpha1/index.ts";
import { HARDENED_SECURITY_CONTEXT } from "./security.ts";

/**
 * Default image of the clone init container: the project's own (agents/git),
 * so every tenant's Git credentials go through an image this project builds;
 * clusters that mirror images set --git-image.
 */
export const DEFAULT_GIT_IMAGE = "quay.io/kubetask/kubetask-git:1";

/**
 * Bounds of one clone, so a huge or hostile repository cannot fill the node's
 * disk, starve it, or hang the Task: the checkout's size, the init
 * container's resources, how long the fetch may take, and how slow it may get.
 */
export const GIT_CLONE_LIMITS = {
  sizeLimit: "2Gi",
  resources: {
    requests: { cpu: "100m", memory: "128Mi" },
    limits: { cpu: "1", memory: "1Gi" },
  },
  timeoutSeconds: 600,
  /** A transfer below this many bytes a second for `lowSpeedSeconds` is given up. */
  lowSpeedBytes: 1000,
  lowSpeedSeconds: 60,
};
const CHECKOUT_DIR = "/kubetask/git";
const SECRET_DIR = "/kubetask/git-secret";

// Repository, ref, host and depth arrive as environment variables, so no
// user text is ever spliced into the script, and every git command ends its
// options with "--" so a value cannot become an option (a ref such as
// "--upload-pack=cmd" would otherwise run a command). The CRD and the
// controller refuse such values too; this is the last line.
//
// Credentials: only the keys below are mounted from the Secret, and git hands
// them only to the repository's own host: the helper is scoped to
// https://<host>, redirects are not followed, and only the https and ssh
// transports are allowed (no ext::, file:// or plain http). SSH verifies the
// server against the Secret's known_hosts; there is no trust on first use.
const CLONE_SCRIPT = [
  "set -eu",
  'mkdir -p "$HOME"',
  `secret=${SECRET_DIR}`,
  "export GIT_CONFIG_NOSYSTEM=1",
  "git config --global protocol.allow never",
  "git config --global protocol.https.allow always",
  "git config --global protocol.ssh.allow always",
  "git config --global http.followRedirects false",
  // An https Context goes through the pod's Git proxy (git_proxy.ts): its
  // insteadOf variables point git at plain HTTP on 127.0.0.1, and nothing else.
  'if [ -n "${GIT_CONFIG_COUNT:-}" ]; then git config --global protocol.http.allow always; fi',
  'if [ -f "$secret/ssh-privatekey" ]; then',
  '  [ -f "$secret/known_hosts" ] || { echo "Secret has ssh-privatekey but no known_hosts" >&2; exit 1; }',
  '  export GIT_SSH_COMMAND="ssh -i $secret/ssh-privatekey -o IdentitiesOnly=yes' +
  ' -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$secret/known_hosts"',
  "fi",
  'if [ -f "$secret/password" ]; then',
  '  git config --global "credential.https://$GIT_HOST.helper" ' +
  `'!f() { echo "username=$(cat ${SECRET_DIR}/username 2>/dev/null)"; echo "password=$(cat ${SECRET_DIR}/password)"; }; f'`,
  "fi",
  `git init -q -- ${CHECKOUT_DIR}/repo`,
  `cd ${CHECKOUT_DIR}/repo`,
  'git remote add -- origin "$GIT_REPOSITORY"',
  // A deadline of its own (the Task's timeout counts only once the agent runs).
  'timeout "$GIT_TIMEOUT" git fetch -q --depth "$GIT_DEPTH" -- origin "$GIT_REF"',
  "git checkout -q --detach FETCH_HEAD --",
].join("\n");

/** The clone runs as this unprivileged user whatever the image says. */
export const GIT_USER = { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 };

/** The keys a Git Secret may hold; nothing else of it is mounted. */
export const GIT_SECRET_KEYS = ["username", "password", "ssh-privatekey", "known_hosts"];

/** The host (and port) of an https:// or ssh:// repository URL. */
export function repositoryHost(repository: string): string {
  try {
    return new URL(repository).host;
  } catch {
    return "";
  }
}

export interface GitMountPlan {
  initContainer: V1Container;
  volumes: V1Volume[];
  mount: V1VolumeMount;
}

/**
 * Init container, volumes and the agent's mount for the index-th Git context.
 * `proxyEnv`: the Context goes through the pod's Git proxy, so its clone gets
 * these insteadOf variables and never its Secret (the proxy mounts it).
 */
export function gitMountPlan(
  index: number,
  git: GitContext,
  mountPath: string,
  image: string,
  proxyEnv?: V1EnvVar[],
): GitMountPlan {
  const volume = `git-${index}`;
  const secretVolume = `git-${index}-secret`;
  const volumeMounts: V1VolumeMount[] = [{ name: volume, mountPath: CHECKOUT_DIR }];
  const volumes: V1Volume[] = [{
    name: volume,
    emptyDir: { sizeLimit: GIT_CLONE_LIMITS.sizeLimit },
  }];
  if (git.secretRef && !proxyEnv) {
    volumes.push({
      name: secretVolume,
      secret: {
        secretName: git.secretRef.name,
        // Read by the clone's non-root user (only this init container mounts it).
        defaultMode: 0o444,
        // Only what the clone uses; a key the Secret lacks is simply absent.
        items: GIT_SECRET_KEYS.map((key) => ({ key, path: key })),
        optional: true,
      },
    });
    volumeMounts.push({ name: secretVolume, mountPath: SECRET_DIR, readOnly: true });
  }
  const pathInRepo = (git.path ?? "").replace(/^\/+|\/+$/g, "");
  return {
    initContainer: {
      name: `git-clone-${index}`,
      image,
      command: ["sh", "-c", CLONE_SCRIPT],
      // A failed clone's last log lines become its termination message: the Task quotes them.
      terminationMessagePolicy: "FallbackToLogsOnError",
      // The clone needs no privilege at all: any image with git and sh runs it.
      securityContext: { ...HARDENED_SECURITY_CONTEXT, ...GIT_USER },
      resources: GIT_CLONE_LIMITS.resources,
      env: [
        { name: "GIT_REPOSITORY", value: git.repository },
        { name: "GIT_HOST", value: repositoryHost(git.repository) },
        { name: "GIT_REF", value: git.ref },
        { name: "GIT_DEPTH", value: String(git.depth) },
        { name: "GIT_TIMEOUT", value: String(GIT_CLONE_LIMITS.timeoutSeconds) },
        { name: "GIT_HTTP_LOW_SPEED_LIMIT", value: String(GIT_CLONE_LIMITS.lowSpeedBytes) },
        { name: "GIT_HTTP_LOW_SPEED_TIME", value: String(GIT_CLONE_LIMITS.lowSpeedSeconds) },
        // git config --global writes here: inside the checkout volume, beside the repository.
        { name: "HOME", value: `${CHECKOUT_DIR}/home` },
        ...(proxyEnv ?? []),
      ],
      volumeMounts,
    },
    volumes,
    mount: { name: volume, mountPath, subPath: pathInRepo ? `repo/${pathInRepo}` : "repo" },
  };
}
