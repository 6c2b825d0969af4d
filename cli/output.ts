// Where the CLI writes: results on stdout, progress and notes on stderr. On a
// terminal, progress is one coloured line rewritten in place; elsewhere
// (pipes, CI logs) every change is a plain line of its own.
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
  /** A live status line is on screen without its newline yet. */
  private liveOpen = false;

  /** A result line (stdout). */
  line(text: string): void {
    this.endLive();
    const bytes = this.encoder.encode(text + "\n");
    this.pending = this.pending.then(() => this.stdout.write(bytes));
  }

  /** A note (stderr). */
  info(text: string): void {
    this.endLive();
    console.error(text);
  }

  /**
   * Progress (stderr). `live`: on a terminal it replaces the previous live
   * line instead of adding one; the final word is a plain status().
   */
  status(text: string, { live = false } = {}): void {
    if (!this.colour) return console.error(text);
    const coloured = text.replace(
      /: (Pending|Queued|Running|Completed|Failed)\b/,
      (_m, phase) => `: ${PHASE_COLOURS[phase]}${phase}\x1b[0m`,
    );
    if (live) {
      Deno.stderr.writeSync(this.encoder.encode(`\r\x1b[K${coloured}`));
      this.liveOpen = true;
      return;
    }
    this.endLive();
    console.error(coloured);
  }

  /** Ends a live line before anything else is written (the agent's log, a note). */
  endLive(): void {
    if (!this.liveOpen) return;
    this.liveOpen = false;
    Deno.stderr.writeSync(this.encoder.encode("\n"));
  }

  usage(text: string): number {
    this.line(text);
    return 0;
  }

  /** Waits for everything written to reach stdout. */
  async close(): Promise<void> {
    this.endLive();
    await this.pending;
    await this.stdout.ready;
    this.stdout.releaseLock();
  }
}
