// A log file that cannot fill the disk: a child's stdout and stderr are piped
// through it. Its first bytes (an eighth of the cap, at most 1 MiB: flags,
// start-up, the first errors) stay in NAME.start.log; the newest output is
// kept in two halves of the rest, NAME.log and NAME.log.1 (the older one):
// when NAME.log would pass its half it becomes NAME.log.1 and a new NAME.log
// starts. A process that writes 70 MB/s (as kube-network-policies did) costs
// at most the cap on disk, all three files together.

/** Each component's log on disk at most (both halves together). */
export const DEFAULT_LOG_CAP_BYTES = 50 * 1024 * 1024;

/** KUBETASK_LOG_CAP_BYTES overrides the cap (tests use a small one). */
export function logCapBytes(): number {
  const v = Number(Deno.env.get("KUBETASK_LOG_CAP_BYTES"));
  return Number.isInteger(v) && v >= 2 ? v : DEFAULT_LOG_CAP_BYTES;
}

/** Where the first bytes of the log at `path` (NAME.log) are kept. */
export function startLogOf(path: string): string {
  return path.replace(/\.log$/, "") + ".start.log";
}

function create(path: string): Deno.FsFile {
  return Deno.openSync(path, { write: true, create: true, truncate: true, mode: 0o600 });
}

export class CappedLog {
  readonly #path: string;
  readonly #half: number;
  #start: Deno.FsFile | undefined;
  #startLeft: number;
  #file: Deno.FsFile;
  #size = 0;

  constructor(path: string, capBytes = logCapBytes()) {
    this.#path = path;
    this.#startLeft = Math.min(Math.floor(capBytes / 8), 1024 * 1024);
    this.#half = Math.max(1, Math.floor((capBytes - this.#startLeft) / 2));
    this.#start = create(startLogOf(path));
    this.#file = create(path);
  }

  /** Appends `chunk`, moving the current half aside first when it would pass its size. */
  write(chunk: Uint8Array): void {
    if (this.#start) {
      const head = chunk.subarray(0, this.#startLeft);
      writeAll(this.#start, head);
      this.#startLeft -= head.length;
      if (this.#startLeft === 0) {
        this.#start.close();
        this.#start = undefined;
      }
    }
    // A chunk larger than a half: only its newest bytes are worth keeping.
    const data = chunk.length > this.#half ? chunk.subarray(chunk.length - this.#half) : chunk;
    if (this.#size + data.length > this.#half) this.#rotate();
    writeAll(this.#file, data);
    this.#size += data.length;
  }

  #rotate(): void {
    this.#file.close();
    Deno.renameSync(this.#path, `${this.#path}.1`);
    this.#file = Deno.openSync(this.#path, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    this.#size = 0;
  }

  close(): void {
    for (const f of [this.#start, this.#file]) {
      try {
        f?.close();
      } catch { /* closed */ }
    }
  }
}

function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  while (data.length > 0) data = data.subarray(file.writeSync(data));
}

/**
 * Copies both streams into one capped log until both end; then closes it.
 * `onText` sees the output as text on its way (a start-up line can be waited
 * for however fast the log rotates).
 */
export async function pipeToCappedLog(
  path: string,
  streams: ReadableStream<Uint8Array>[],
  onText?: (text: string) => void,
  capBytes = logCapBytes(),
): Promise<void> {
  const log = new CappedLog(path, capBytes);
  try {
    await Promise.all(streams.map(async (s) => {
      const decoder = new TextDecoder();
      for await (const chunk of s) {
        log.write(chunk);
        onText?.(decoder.decode(chunk, { stream: true }));
      }
    }));
  } catch {
    /* the child is gone: nothing more to copy */
  } finally {
    log.close();
  }
}
