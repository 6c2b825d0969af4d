// Where the CLI writes: results on stdout, progress and notes on stderr. On a
// terminal, progress is one coloured line rewritten in place; elsewhere
// (pipes, CI logs) every change is a plain line of its own.
//
// Everything printed here may carry agent-supplied text (logs, summaries,
// outputs, condition and Event messages): on a terminal it goes through
// terminal_text.ts first, so only our own colours reach the terminal. Pipes
// and files get the text unchanged.
import { terminalSafe, TerminalTextFilter } from "./terminal_text.ts";

const PHASE_COLOURS: Record<string, string> = {
  Completed: "\x1b[32m",
  Failed: "\x1b[31m",
  Running: "\x1b[36m",
  Queued: "\x1b[33m",
  Pending: "\x1b[33m",
};

/** Where an Output writes, and whether each side is a terminal (tests pass their own). */
export interface OutputStreams {
  stdout: WritableStream<Uint8Array>;
  stderr: { writeSync(bytes: Uint8Array): number };
  stdoutIsTerminal: boolean;
  stderrIsTerminal: boolean;
}

const processStreams = (): OutputStreams => ({
  stdout: Deno.stdout.writable,
  stderr: Deno.stderr,
  stdoutIsTerminal: Deno.stdout.isTerminal(),
  stderrIsTerminal: Deno.stderr.isTerminal(),
});

export class Output {
  private readonly stdout: WritableStreamDefaultWriter<Uint8Array>;
  private readonly encoder = new TextEncoder();
  private readonly colour: boolean;
  private pending: Promise<void> = Promise.resolve();
  /** A live status line is on screen without its newline yet. */
  private liveOpen = false;

  constructor(private readonly streams: OutputStreams = processStreams()) {
    this.stdout = streams.stdout.getWriter();
    this.colour = streams.stderrIsTerminal && !Deno.env.get("NO_COLOR");
  }

  /** `text` as line() will show it: what a table must measure and truncate. */
  shownOnStdout(text: string): string {
    return this.streams.stdoutIsTerminal ? terminalSafe(text) : text;
  }

  private forStderr(text: string): string {
    return this.streams.stderrIsTerminal ? terminalSafe(text) : text;
  }

  private writeStderr(text: string): void {
    const bytes = this.encoder.encode(text);
    for (let done = 0; done < bytes.length;) {
      done += this.streams.stderr.writeSync(bytes.subarray(done));
    }
  }

  /** A result line (stdout). */
  line(text: string): void {
    this.endLive();
    const bytes = this.encoder.encode(this.shownOnStdout(text) + "\n");
    this.pending = this.pending.then(() => this.stdout.write(bytes));
  }

  /** A stream of untrusted text (the agent's log) to stdout, chunk by chunk as it arrives. */
  async stream(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.endLive();
    await this.pending;
    // One filter per stream: a sequence split across chunks is still seen whole.
    const filter = this.streams.stdoutIsTerminal ? new TerminalTextFilter() : undefined;
    try {
      for await (const chunk of chunks) {
        await this.stdout.write(filter ? this.encoder.encode(filter.pushBytes(chunk)) : chunk);
      }
    } finally {
      const rest = filter?.end();
      if (rest) await this.stdout.write(this.encoder.encode(rest));
    }
  }

  /** A note (stderr). */
  info(text: string): void {
    this.endLive();
    this.writeStderr(this.forStderr(text) + "\n");
  }

  /**
   * Progress (stderr). `live`: on a terminal it replaces the previous live
   * line instead of adding one; the final word is a plain status().
   */
  status(text: string, { live = false } = {}): void {
    text = this.forStderr(text);
    if (!this.colour) return this.writeStderr(text + "\n");
    const coloured = text.replace(
      /: (Pending|Queued|Running|Completed|Failed)\b/,
      (_m, phase) => `: ${PHASE_COLOURS[phase]}${phase}\x1b[0m`,
    );
    if (live) {
      this.writeStderr(`\r\x1b[K${coloured}`);
      this.liveOpen = true;
      return;
    }
    this.endLive();
    this.writeStderr(coloured + "\n");
  }

  /** Ends a live line before anything else is written (the agent's log, a note). */
  endLive(): void {
    if (!this.liveOpen) return;
    this.liveOpen = false;
    this.writeStderr("\n");
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
