// One request/response in flight: the stream meter fed the SSE events as they
// pass, the JSON body collected for metering at its end, the transcript
// record, and the settlement with the ledger (exactly once, also when the
// client went away, the stream was cut or the upstream broke).
import { concatBytes } from "../controllers/runtime/bytes.ts";
import { amountOf, type Reservation } from "./ledger.ts";
import { formatUSD } from "./money.ts";
import { costNano, NO_TOKENS, type PriceRates } from "./prices.ts";
import type { ProxyOptions } from "./proxy.ts";
import { SseParser } from "./sse.ts";
import type { TranscriptRecord } from "./transcripts.ts";
import type { ProtocolModule, TaskIdentity, Tokens } from "./types.ts";

export interface ExchangeInit {
  opts: ProxyOptions;
  identity: TaskIdentity;
  protocol: ProtocolModule;
  rates: PriceRates;
  reservation: Reservation;
  model?: string;
  record: TranscriptRecord;
  started: number;
  maxRecorded: number;
  done: () => void;
}

/** One request/response in flight: its meter, its recording, and its settlement (once). */
export class Exchange {
  status = 0;
  upstreamMs: number | undefined;
  private parser = new SseParser();
  private meter;
  private events: unknown[] = [];
  private recorded = 0;
  private bodyChunks: Uint8Array[] = [];
  private overflow = false;
  private finished = false;

  constructor(private readonly x: ExchangeInit) {
    this.meter = x.protocol.meter();
    // A note first, so an exchange the gateway never finishes (SIGKILL, OOM, node loss) is in the
    // transcript as begun and unfinished instead of missing.
    x.record.exchange = crypto.randomUUID();
    const { time, method, path, protocol, model, exchange } = x.record;
    void x.opts.transcripts?.append(x.identity.namespace, x.identity.taskUid, {
      time,
      durationMs: 0,
      method,
      path,
      ...(protocol ? { protocol } : {}),
      ...(model ? { model } : {}),
      status: 0,
      exchange,
      begun: true,
    });
  }

  /** Feeds SSE bytes; true when the Task's spend crossed its budget. */
  sseChunk(bytes: Uint8Array): boolean {
    const events = this.parser.feed(bytes);
    if (events.length === 0) return false;
    for (const e of events) {
      // Parsed once, for the meter and the transcript.
      try {
        e.json = JSON.parse(e.data);
      } catch {
        e.json = null;
      }
      this.meter.event(e);
      this.recorded += e.data.length;
      if (this.recorded > this.x.maxRecorded) this.overflow = true;
      else this.events.push(e.json ?? e.data);
    }
    const tokens = this.meter.usage();
    return this.x.reservation.update(amountOf(tokens, costNano(tokens, this.x.rates)));
  }

  /** Collects a JSON body (metered at its end). */
  bodyChunk(bytes: Uint8Array): boolean {
    this.recorded += bytes.length;
    if (this.recorded > this.x.maxRecorded) this.overflow = true;
    else this.bodyChunks.push(bytes);
    return false;
  }

  finish(status: number, incomplete: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.x.done();
    const { opts, identity, reservation } = this.x;
    let response: unknown;
    let tokens: Tokens;
    if (this.bodyChunks.length > 0 || (this.events.length === 0 && !this.overflow)) {
      const text = new TextDecoder().decode(concatBytes(this.bodyChunks));
      try {
        response = text === "" ? undefined : JSON.parse(text);
      } catch {
        response = text;
      }
      tokens = (response !== undefined && this.x.protocol.usageFromJson(response)) || NO_TOKENS;
    } else {
      for (const e of this.parser.end()) this.meter.event(e);
      tokens = this.meter.usage();
      response = { stream: true, events: this.events, text: this.meter.text() };
    }
    if (this.overflow) response = { truncated: true, text: this.meter.text() };
    const cost = costNano(tokens, this.x.rates);
    reservation.settle(tokens, cost, this.x.model);
    // A JSON answer is metered only at its end: one that went over marks the Task now.
    if (opts.ledger.overBudget(reservation.entry)) opts.ledger.mark(reservation.entry);
    const model = this.x.model ?? "unknown";
    opts.metrics.request(identity.namespace, identity.agent, identity.provider.name, status);
    opts.metrics.metered(identity.namespace, identity.agent, model, tokens, cost);
    const durationMs = Date.now() - this.x.started;
    opts.metrics.observeDuration(durationMs / 1000);
    const record: TranscriptRecord = {
      ...this.x.record,
      durationMs,
      upstreamMs: this.upstreamMs,
      status,
      response,
      usage: {
        inputTokens: tokens.input,
        outputTokens: tokens.output,
        cacheReadTokens: tokens.cacheRead,
        cacheWriteTokens: tokens.cacheWrite,
        costUSD: formatUSD(cost),
      },
    };
    if (incomplete) record.incomplete = true;
    void opts.transcripts?.append(identity.namespace, identity.taskUid, record);
  }
}
