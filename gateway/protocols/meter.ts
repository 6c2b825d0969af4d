// The one stream meter: each protocol says what one parsed event adds (a text
// delta, a usage reading); joining text and keeping the latest usage is here.
import type { SseEvent, StreamMeter, Tokens } from "../types.ts";
import { eventJson } from "../sse.ts";
import { NO_TOKENS } from "../prices.ts";
import type { Obj } from "./json.ts";

/** What one event of a stream tells: its text delta and, when it carries one, the usage so far. */
export interface EventReading {
  text?: string;
  usage?: Tokens;
}

/** A meter over a stream of JSON events; events that are not JSON objects count nothing. */
export function jsonStreamMeter(
  read: (data: Obj, event: SseEvent, usage: Tokens) => EventReading,
): () => StreamMeter {
  return () => {
    let usage: Tokens = { ...NO_TOKENS };
    let text = "";
    return {
      event(e: SseEvent) {
        const d = eventJson(e);
        if (!d) return;
        const r = read(d, e, usage);
        text += r.text ?? "";
        if (r.usage) usage = r.usage;
      },
      usage: () => ({ ...usage }),
      text: () => text,
    };
  };
}
