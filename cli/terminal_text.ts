// Agent logs, summaries and outputs are untrusted text. Written to a terminal
// as they are, their control sequences act on the reader's terminal: OSC 52
// sets the clipboard, OSC 0/2 retitles the window, OSC 8 makes a link whose
// target differs from its text, CSI moves the cursor to overwrite what was
// printed. On a terminal the CLI passes such text through TerminalTextFilter,
// which keeps printable text, `\n` and `\t`, and drops every other C0 and C1
// control together with the escape sequence it starts (ECMA-48 shapes).
//
// It is a state machine over code points, so a sequence split across two
// chunks of a streamed log is still recognised, and it holds nothing back but
// its state (a string sequence that never ends is dropped up to the end of its
// line, so it cannot hide the rest of a log).

const ESC = 0x1b;
const BEL = 0x07;
const CSI_C1 = 0x9b;
const ST_C1 = 0x9c;
/** C1 controls that open a control string (DCS, SOS, OSC, PM, APC), ended by ST. */
const STRING_C1 = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);
/** The same, as the byte after ESC: P, X, ], ^, _. */
const STRING_AFTER_ESC = new Set([0x50, 0x58, 0x5d, 0x5e, 0x5f]);

type State =
  | "text"
  | "escape" // after ESC
  | "escape-intermediate" // ESC, then 0x20–0x2F bytes, waiting for the final byte
  | "csi" // parameters and intermediates, waiting for the final byte
  | "string" // OSC, DCS, ...: until ST (ESC \ or U+009C) or BEL
  | "string-escape"; // an ESC inside a string: `\` ends it

const isKept = (c: number) => c === 0x0a || c === 0x09;
const isControl = (c: number) => c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f);

export class TerminalTextFilter {
  private state: State = "text";
  private readonly decoder = new TextDecoder();

  /** The printable part of `text`; a sequence left open waits for the next call. */
  push(text: string): string {
    let out = "";
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (this.step(c)) out += ch;
    }
    return out;
  }

  /** Bytes of a UTF-8 stream (a character may be split across chunks too). */
  pushBytes(chunk: Uint8Array): string {
    return this.push(this.decoder.decode(chunk, { stream: true }));
  }

  /** The end of the stream: an unfinished sequence is dropped. */
  end(): string {
    const rest = this.push(this.decoder.decode());
    this.state = "text";
    return rest;
  }

  /** Advances by one code point; true when it is printed. */
  private step(c: number): boolean {
    switch (this.state) {
      case "text":
        return this.text(c);
      case "escape":
        if (c === 0x5b) this.state = "csi";
        else if (STRING_AFTER_ESC.has(c)) this.state = "string";
        else if (c >= 0x20 && c <= 0x2f) this.state = "escape-intermediate";
        else if (c >= 0x30 && c <= 0x7e) this.state = "text"; // a two-byte sequence: ESC 7, ESC c
        else return this.abort(c);
        return false;
      case "escape-intermediate":
        if (c >= 0x20 && c <= 0x2f) return false;
        if (c >= 0x30 && c <= 0x7e) {
          this.state = "text";
          return false;
        }
        return this.abort(c);
      case "csi":
        if (c >= 0x20 && c <= 0x3f) return false;
        if (c >= 0x40 && c <= 0x7e) {
          this.state = "text";
          return false;
        }
        return this.abort(c);
      case "string":
        if (c === BEL || c === ST_C1) this.state = "text";
        else if (c === ESC) this.state = "string-escape";
        else if (c === 0x0a) return this.abort(c); // bounded: at most the rest of a line
        return false;
      case "string-escape":
        if (c === 0x5c) {
          this.state = "text";
          return false;
        }
        this.state = "string";
        return this.step(c);
    }
  }

  private text(c: number): boolean {
    if (c === ESC) this.state = "escape";
    else if (c === CSI_C1) this.state = "csi";
    else if (STRING_C1.has(c)) this.state = "string";
    else return !isControl(c) || isKept(c);
    return false;
  }

  /** A malformed sequence ends here; `c` is read as text again. */
  private abort(c: number): boolean {
    this.state = "text";
    return this.text(c);
  }
}

/** `text` without control sequences, for a whole string (not a stream). */
export function terminalSafe(text: string): string {
  const filter = new TerminalTextFilter();
  return filter.push(text) + filter.end();
}
