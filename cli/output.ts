// Where the CLI writes: results on stdout, progress and notes on stderr;
// colour only when stderr is a terminal.
const PHASE_COLOURS: Record<string, string> = {
  Completed: "\x1b[32m",
  Failed: "\x1b[31m",
  Running: "\x1b[36m",
  Queued: "\x1b[33m",
  Pending: "\x1b[33m",
};

export class Output {
  readonly stdout = Deno.stdout.writable.getWriter();
  private readonly encoder = new TextEncoder();
  private readonly colour = Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR");
  private pending: Promise<void> = Promise.resolve();

  /** A result line (stdout). */
  line(text: string): void {
    const bytes = this.encoder.encode(text + "\n");
    this.pending = this.pending.then(() => this.stdout.write(bytes));
  }

  /** A note (stderr). */
  info(text: string): void {
    console.error(text);
  }

  /** A status line (stderr), its phase coloured on a terminal. */
  status(text: string): void {
    if (!this.colour) return console.error(text);
    console.error(
      text.replace(
        /: (Pending|Queued|Running|Completed|Failed)\b/,
        (_m, phase) => `: ${PHASE_COLOURS[phase]}${phase}\x1b[0m`,
      ),
    );
  }

  usage(text: string): number {
    this.line(text);
    return 0;
  }

  /** Waits for everything written to reach stdout. */
  async close(): Promise<void> {
    await this.pending;
    await this.stdout.ready;
    this.stdout.releaseLock();
  }
}
