// Structured logs: one JSON object per line on stderr, so log shippers can
// parse them without guessing at formats.
import type { Logger } from "./types.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: string): value is LogLevel {
  return value in LEVEL_ORDER;
}

/** Where log lines go; tests swap in an array. */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

/** Errors do not serialize to JSON by default; keep their message. */
function plain(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  return value;
}

export function createLogger(
  opts: { level?: LogLevel; sink?: LogSink; fields?: Record<string, unknown> } = {},
): Logger & { with(fields: Record<string, unknown>): Logger } {
  const min = LEVEL_ORDER[opts.level ?? "info"];
  const sink = opts.sink ?? stderrSink;
  const base = opts.fields ?? {};
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVEL_ORDER[level] < min) return;
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) record[k] = plain(v);
    sink(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    with: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that adds `fields` to every record of `log`. */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  const merge = (f?: Record<string, unknown>) => ({ ...fields, ...f });
  return {
    debug: (msg, f) => log.debug(msg, merge(f)),
    info: (msg, f) => log.info(msg, merge(f)),
    warn: (msg, f) => log.warn(msg, merge(f)),
    error: (msg, f) => log.error(msg, merge(f)),
  };
}

/** A logger that drops everything (handy default for in-process tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
