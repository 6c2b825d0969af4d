// The humanInTheLoop wrapper: the agent's command runs through `sh -c`, then
// the container stays up for a while so a human can look inside. Hence the
// shell quoting: each argument must reach the shell unchanged.

const SAFE_WORD = /^[A-Za-z0-9_\/.,:=@%+-]+$/;

/** Quotes one argument for POSIX sh; plain words are left as they are. */
export function shellQuote(arg: string): string {
  if (SAFE_WORD.test(arg)) return arg;
  // Inside single quotes nothing is special except the closing quote itself.
  return `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/** Joins an argv into one shell command line that reproduces it exactly. */
export function shellJoin(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/**
 * Runs `command`, then keeps the container alive for `keepAliveSeconds` so a
 * human can `kubectl exec` in; the agent's exit code still decides the result.
 */
export function humanInTheLoopCommand(command: string[], keepAliveSeconds: number): string[] {
  const seconds = Math.max(0, Math.floor(keepAliveSeconds));
  const script = [
    `${shellJoin(command)}`,
    "code=$?",
    `echo "kubetask: agent exited with code $code; keeping the container alive for ${seconds}s (humanInTheLoop)"`,
    `sleep ${seconds}`,
    "exit $code",
  ].join("; ");
  return ["sh", "-c", script];
}
