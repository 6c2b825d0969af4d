// Joining byte chunks, for the certificate's DER and the gateway's bodies.

/** The parts, in order, in one new array. */
export function concatBytes(parts: readonly (Uint8Array | number[])[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
