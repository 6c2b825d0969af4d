// Files only their owner may read: the local cluster's keys, tokens and
// kubeconfigs (each one is admin of the cluster) on machines people share.
// Modes are set after the write too: `mode` only applies to a file (or folder)
// that did not exist, and the umask may narrow it.

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Creates `dir` (and its parents) and makes it private to its owner. */
export async function makePrivateDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await Deno.chmod(dir, PRIVATE_DIR_MODE);
}

/** Writes (or appends to) a file only its owner may read or write. */
export async function writePrivateFile(
  path: string,
  text: string,
  options: { append?: boolean } = {},
): Promise<void> {
  await Deno.writeTextFile(path, text, { ...options, mode: PRIVATE_FILE_MODE });
  await Deno.chmod(path, PRIVATE_FILE_MODE);
}

/** Makes an existing file (a key a tool wrote) private to its owner. */
export async function makePrivate(path: string): Promise<void> {
  await Deno.chmod(path, PRIVATE_FILE_MODE);
}
