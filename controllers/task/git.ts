// Git contexts: an init container clones the repository into an emptyDir
// that the agent container then mounts (the operator itself never clones).
import type { V1Container, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { GitContext } from "../../api/v1alpha1/index.ts";

/** Default image of the clone init container; clusters that mirror images set --git-image. */
export const DEFAULT_GIT_IMAGE = "alpine/git:latest";
const CHECKOUT_DIR = "/kubetask/git";
const SECRET_DIR = "/kubetask/git-secret";

// Repository, ref and depth arrive as environment variables, so no user text
// is ever spliced into the script. A Secret may carry `username`+`password`
// (HTTPS) or `ssh-privatekey`.
const CLONE_SCRIPT = [
  "set -eu",
  `secret=${SECRET_DIR}`,
  'if [ -f "$secret/ssh-privatekey" ]; then',
  '  export GIT_SSH_COMMAND="ssh -i $secret/ssh-privatekey -o StrictHostKeyChecking=accept-new"',
  "fi",
  'if [ -f "$secret/password" ]; then',
  "  git config --global credential.helper " +
  `'!f() { echo "username=$(cat ${SECRET_DIR}/username 2>/dev/null)"; echo "password=$(cat ${SECRET_DIR}/password)"; }; f'`,
  "fi",
  `git init -q ${CHECKOUT_DIR}/repo`,
  `cd ${CHECKOUT_DIR}/repo`,
  'git remote add origin "$GIT_REPOSITORY"',
  'git fetch -q --depth "$GIT_DEPTH" origin "$GIT_REF"',
  "git checkout -q FETCH_HEAD",
].join("\n");

export interface GitMountPlan {
  initContainer: V1Container;
  volumes: V1Volume[];
  mount: V1VolumeMount;
}

/** Init container, volumes and the agent's mount for the index-th Git context. */
export function gitMountPlan(
  index: number,
  git: GitContext,
  mountPath: string,
  image: string,
): GitMountPlan {
  const volume = `git-${index}`;
  const secretVolume = `git-${index}-secret`;
  const volumeMounts: V1VolumeMount[] = [{ name: volume, mountPath: CHECKOUT_DIR }];
  const volumes: V1Volume[] = [{ name: volume, emptyDir: {} }];
  if (git.secretRef) {
    volumes.push({
      name: secretVolume,
      secret: { secretName: git.secretRef.name, defaultMode: 0o400 },
    });
    volumeMounts.push({ name: secretVolume, mountPath: SECRET_DIR, readOnly: true });
  }
  const pathInRepo = (git.path ?? "").replace(/^\/+|\/+$/g, "");
  return {
    initContainer: {
      name: `git-clone-${index}`,
      image,
      command: ["sh", "-c", CLONE_SCRIPT],
      env: [
        { name: "GIT_REPOSITORY", value: git.repository },
        { name: "GIT_REF", value: git.ref },
        { name: "GIT_DEPTH", value: String(git.depth) },
        { name: "HOME", value: "/tmp" },
      ],
      volumeMounts,
    },
    volumes,
    mount: { name: volume, mountPath, subPath: pathInRepo ? `repo/${pathInRepo}` : "repo" },
  };
}
