// The command line: `kubetask run|logs|stop|list|describe|transcript` (and, named
// kubectl-kubetask on PATH, `kubectl kubetask ...`). Exit codes: 0 success
// (for run: the Task Completed), 1 failure (the Task Failed, or an error),
// 2 bad usage.
import { ApiError } from "../controllers/runtime/transport.ts";
import { UsageError } from "./args.ts";
import { describeCommand, listCommand, logsCommand, stopCommand } from "./commands.ts";
import { Output } from "./output.ts";
import { runCommand } from "./run.ts";
import { transcriptCommand } from "./transcript.ts";
import { CommandError } from "./tasks.ts";

export const CLI_USAGE = `usage: kubetask COMMAND [flags]   (or: kubectl kubetask COMMAND)
  run "DESCRIPTION"   create a Task and follow it to the end (--detach: just create it)
  logs TASK [-f]      the agent's log
  stop TASK           stop a Task (kubetask.io/stop=true)
  list                Tasks with phase, agent, age, duration and result
  describe TASK       conditions, events, outputs and the task.md it ran with
  transcript TASK     the model calls the gateway kept for the Task (-o json)
  operator [flags]    run the operator (what the container image does)
  gateway [flags]     run the model gateway (gateway --help)
Connection flags, as kubectl: --kubeconfig, --kube-context (--context on all but run), -n/--namespace.
COMMAND --help shows a command's flags.`;

const COMMANDS: Record<string, (args: string[], out: Output) => Promise<number>> = {
  run: runCommand,
  logs: logsCommand,
  stop: stopCommand,
  list: listCommand,
  describe: describeCommand,
  transcript: transcriptCommand,
};

export function isCliCommand(word: string | undefined): boolean {
  return word !== undefined && (word in COMMANDS || word === "help");
}

export async function cliMain(args: string[]): Promise<number> {
  const out = new Output();
  const [command, ...rest] = args;
  try {
    if (command === "help" || !COMMANDS[command]) {
      out.line(CLI_USAGE);
      return command === "help" ? 0 : 2;
    }
    return await COMMANDS[command](rest, out);
  } catch (err) {
    if (err instanceof UsageError) {
      out.info(`error: ${err.message}`);
      return 2;
    }
    if (err instanceof CommandError || err instanceof ApiError) {
      out.info(`error: ${err.message}`);
      return 1;
    }
    out.info(`error: ${(err as Error).message ?? err}`);
    return 1;
  } finally {
    await out.close();
  }
}
