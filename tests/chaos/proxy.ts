// A TCP proxy of the test's own between the operator and the apiserver that
// can stall: while stalled it accepts connections and keeps every one open but
// forwards no byte either way, so requests hang (a partitioned network), they
// are not refused (a stopped server).
export class StallingProxy {
  private readonly listener: Deno.Listener;
  private gate: Promise<void> = Promise.resolve();
  private resume?: () => void;
  private readonly conns = new Set<Deno.Conn>();

  constructor(private readonly upstreamPort: number) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.accept();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  private async accept(): Promise<void> {
    for await (const down of this.listener) {
      const up = await Deno.connect({ hostname: "127.0.0.1", port: this.upstreamPort }).catch(
        () => undefined,
      );
      if (!up) {
        down.close();
        continue;
      }
      this.conns.add(down).add(up);
      const close = () => {
        for (const c of [down, up]) {
          this.conns.delete(c);
          try {
            c.close();
          } catch { /* already closed */ }
        }
      };
      Promise.all([this.pump(down, up), this.pump(up, down)]).finally(close);
    }
  }

  /** Copies chunks, each one waiting for the gate: a stall holds bytes, it drops none. */
  private async pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        await this.gate;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* either side went away */ }
    // closeWrite is async: a rejection (the socket already gone) must be caught here, or
    // it ends the whole harness as an unhandled rejection (it throws at once on a closed one).
    try {
      await to.closeWrite();
    } catch { /* already closed */ }
  }

  stall(): void {
    this.gate = new Promise((r) => (this.resume = r));
  }

  unstall(): void {
    this.resume?.();
  }

  close(): void {
    this.unstall();
    try {
      this.listener.close();
    } catch { /* closed before */ }
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
}
