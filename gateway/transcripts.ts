// The transcript store: per Task a file <dir>/<namespace>/<taskUid>.jsonl.gz
// holding one gzip member per exchange (a concatenation of gzip members is a
// valid gzip stream), so appending never rewrites and a crash loses at most
// the exchange in flight. Past the per-Task cap, records become stubs.
import { constants, gunzip, gzipSync } from "node:zlib";
import { promisify } from "node:util";
import type { Logger } from "../controllers/runtime/types.ts";
import { concatBytes } from "../controllers/runtime/bytes.ts";
import type { TaskExists } from "./types.ts";

/** Fast compression: a record is small and written while requests are being served. */
const compress = (text: string) =>
  gzipSync(new TextEncoder().encode(text), { level: constants.Z_BEST_SPEED });
const gunzipAsync = promisify(gunzip);

export interface TranscriptRecord {
  time: string;
  durationMs: number;
  /** From the request's arrival to the upstream's response headers. */
  upstreamMs?: number;
  method: string;
  /** Without the query's key parameter. */
  path: string;
  protocol?: string;
  model?: string;
  status: number;
  request?: unknown;
  response?: unknown | { stream: true; events: unknown[]; text: string };
  usage?: {
    inputTokens: number;
    outputTokens: number;
    cacheReadTokens: number;
    cacheWriteTokens: number;
    costUSD: string;
  };
  incomplete?: true;
  refused?: string;
  truncated?: true;
  /** Pairs the note written when a forwarded exchange begins with its record at the end. */
  exchange?: string;
  /** That note (no bodies): read back only when no record of the exchange's end follows it. */
  begun?: true;
  /** Read back for a begun exchange without an end: what is and is not known of it. */
  unfinished?: string;
}

/** What a begun exchange without a record of its end is. */
export const UNFINISHED =
  "no end recorded: still in flight, or the gateway stopped (killed, crashed) before it ended; " +
  "its request body and whatever the client received of its answer are not kept";

export interface TranscriptStoreOptions {
  dir: string;
  /** Per Task file; past it, records become {truncated: true} stubs. */
  maxBytesPerTask?: number;
  /** Files older than this (by last write) are swept. */
  retentionMs?: number;
  logger?: Logger;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UID = /^[A-Za-z0-9][-A-Za-z0-9]{0,63}$/;

/** The file of a Task's transcript; throws on a namespace or uid that could leave the directory. */
export function transcriptPath(dir: string, namespace: string, taskUid: string): string {
  if (!NAMESPACE.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`);
  if (!UID.test(taskUid)) throw new Error(`invalid Task uid ${JSON.stringify(taskUid)}`);
  return `${dir}/${namespace}/${taskUid}.jsonl.gz`;
}

export class TranscriptStore {
  private readonly maxBytes: number;
  private readonly retentionMs: number;
  /** Per file: records waiting, its size as written, the writer draining it. */
  private files = new Map<
    string,
    { pending: TranscriptRecord[]; size?: number; drain?: Promise<void> }
  >();

  constructor(private readonly opts: TranscriptStoreOptions) {
    this.maxBytes = opts.maxBytesPerTask ?? 64 * 1024 * 1024;
    this.retentionMs = opts.retentionMs ?? 168 * 3600_000;
  }

  /** Appends one exchange. Never throws: a transcript failure must not fail the request. Records
   *  that arrive while a write runs go out together in the next one (one open per batch). */
  append(namespace: string, taskUid: string, record: TranscriptRecord): Promise<void> {
    let path: string;
    try {
      path = transcriptPath(this.opts.dir, namespace, taskUid);
    } catch (err) {
      this.opts.logger?.warn("transcript not written", { namespace, error: err });
      return Promise.resolve();
    }
    let file = this.files.get(path);
    if (!file) this.files.set(path, file = { pending: [] });
    file.pending.push(record);
    const f = file;
    f.drain ??= (async () => {
      try {
        while (f.pending.length > 0) {
          const batch = f.pending.splice(0);
          try {
            await this.write(path, namespace, f, batch);
          } catch (err) {
            f.size = undefined;
            this.opts.logger?.warn("transcript append failed", { namespace, error: err });
          }
        }
      } finally {
        f.drain = undefined;
        if (f.pending.length === 0 && f.size === undefined) this.files.delete(path);
      }
    })();
    return f.drain;
  }

  /** Waits for the appends in progress. */
  async idle(): Promise<void> {
    while ([...this.files.values()].some((f) => f.drain)) {
      await Promise.all([...this.files.values()].map((f) => f.drain));
    }
  }

  private async write(
    path: string,
    namespace: string,
    f: { size?: number },
    records: TranscriptRecord[],
  ): Promise<void> {
    if (f.size === undefined) {
      await Deno.mkdir(`${this.opts.dir}/${namespace}`, { recursive: true, mode: 0o700 });
      f.size = await Deno.stat(path).then((s) => s.size, () => 0);
    }
    const members: Uint8Array[] = [];
    let size = f.size;
    for (const record of records) {
      let member = compress(JSON.stringify(record) + "\n");
      if (size + member.length > this.maxBytes) {
        member = compress(JSON.stringify(stubOf(record)) + "\n");
      }
      members.push(member);
      size += member.length;
    }
    const bytes = concatBytes(members);
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    } finally {
      file.close();
    }
    f.size = size;
  }

  /** All records in order; [] when the Task has none. A torn last member (crash mid-write) is
   *  dropped, the records before it kept. */
  async read(namespace: string, taskUid: string): Promise<TranscriptRecord[]> {
    const path = transcriptPath(this.opts.dir, namespace, taskUid);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    let text: string;
    try {
      text = new TextDecoder().decode(await gunzipAsync(bytes));
    } catch {
      text = new TextDecoder().decode(await gunzipPrefix(bytes));
    }
    const out: TranscriptRecord[] = [];
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        // a torn line: skip
      }
    }
    // A begun note stands for its exchange only while no record of the end follows.
    const ended = new Set(out.filter((r) => !r.begun && r.exchange).map((r) => r.exchange));
    return out.filter((r) => !(r.begun && ended.has(r.exchange))).map((r) => {
      if (!r.begun) return r;
      const { begun: _, ...rest } = r;
      return { ...rest, incomplete: true, unfinished: UNFINISHED };
    });
  }

  /** Deletes files whose Task no longer exists or that are older than the retention. */
  async sweep(taskExists: TaskExists, now = Date.now()): Promise<number> {
    let removed = 0;
    let namespaces: Deno.DirEntry[];
    try {
      namespaces = await Array.fromAsync(Deno.readDir(this.opts.dir));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return 0;
      throw err;
    }
    for (const ns of namespaces) {
      if (!ns.isDirectory || !NAMESPACE.test(ns.name)) continue;
      for await (const f of Deno.readDir(`${this.opts.dir}/${ns.name}`)) {
        const uid = f.name.replace(/\.jsonl\.gz$/, "");
        if (!f.isFile || uid === f.name || !UID.test(uid)) continue;
        const path = `${this.opts.dir}/${ns.name}/${f.name}`;
        const stat = await Deno.stat(path);
        const old = (stat.mtime?.getTime() ?? now) < now - this.retentionMs;
        if (old || !(await taskExists(ns.name, uid))) {
          await Deno.remove(path).catch(() => {});
          const cached = this.files.get(path);
          if (cached && !cached.drain) this.files.delete(path);
          else if (cached) cached.size = undefined;
          removed++;
        }
      }
    }
    return removed;
  }
}

/** What is kept of a record past the size cap. */
function stubOf(record: TranscriptRecord): TranscriptRecord {
  return {
    time: record.time,
    durationMs: record.durationMs,
    method: record.method,
    path: record.path,
    model: record.model,
    status: record.status,
    usage: record.usage,
    truncated: true,
    ...(record.exchange ? { exchange: record.exchange } : {}),
    ...(record.begun ? { begun: true } : {}),
  };
}

/** Decompresses the longest readable prefix of concatenated gzip members (by trying the
 *  member boundaries: each starts with the gzip magic). */
async function gunzipPrefix(bytes: Uint8Array): Promise<Uint8Array> {
  for (let end = bytes.length - 1; end > 0; end--) {
    if (bytes[end] !== 0x1f || bytes[end + 1] !== 0x8b) continue;
    try {
      return await gunzipAsync(bytes.subarray(0, end));
    } catch {
      // not a boundary, or still torn further back
    }
  }
  return new Uint8Array();
}
