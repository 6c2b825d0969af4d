// An incremental server-sent-events parser: fed the response bytes exactly as
// they pass through to the client (chunk boundaries anywhere, even inside a
// UTF-8 character or between \r and \n), it yields each complete event.
import type { SseEvent } from "./types.ts";

export class SseParser {
  private decoder = new TextDecoder();
  private line = "";
  private lastWasCR = false;
  private eventName: string | undefined;
  private data: string[] = [];

  /** Feeds one chunk; returns the events it completed. */
  feed(chunk: Uint8Array): SseEvent[] {
    return this.text(this.decoder.decode(chunk, { stream: true }));
  }

  /** The end of the stream: a last event without its blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    const out = this.text(this.decoder.decode());
    this.line = "";
    this.eventName = undefined;
    this.data = [];
    return out;
  }

  private text(s: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 10 && this.lastWasCR && i === start && this.line === "") {
        // The \n of a \r\n whose \r ended the previous line.
        this.lastWasCR = false;
        start = i + 1;
        continue;
      }
      this.lastWasCR = c === 13;
      this.onLine(this.line + s.slice(start, i), out);
      this.line = "";
      start = i + 1;
    }
    if (start < s.length) {
      this.line += s.slice(start);
      this.lastWasCR = false;
    }
    return out;
  }

  private onLine(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) {
        const e: SseEvent = { data: this.data.join("\n") };
        if (this.eventName !== undefined) e.event = this.eventName;
        out.push(e);
      }
      this.data = [];
      this.eventName = undefined;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.eventName = value;
  }
}

/** Parses an event's data as JSON; undefined for non-JSON data such as `[DONE]`. */
export function eventJson(e: SseEvent): Record<string, unknown> | undefined {
  try {
    const v = e.json !== undefined ? e.json : JSON.parse(e.data);
    return v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
