// A self-signed serving certificate, made at start when /metrics is served
// over HTTPS and no certificate was given (--metrics-cert-dir), as
// controller-runtime does. Scrapers that cannot verify it skip verification
// (Prometheus' insecure_skip_verify); what protects /metrics is the bearer
// token check, the certificate only keeps that token off the wire.
//
// The image has no openssl, so the X.509 certificate is assembled here: an
// ECDSA P-256 key from WebCrypto and the few DER structures a certificate
// needs (RFC 5280).

import { concatBytes } from "./bytes.ts";

const bytes = (...parts: (Uint8Array | number[])[]) => concatBytes(parts);

function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return bytes([tag], length, content);
}

const sequence = (...items: Uint8Array[]) => tlv(0x30, bytes(...items));
const set = (...items: Uint8Array[]) => tlv(0x31, bytes(...items));
const explicit = (n: number, item: Uint8Array) => tlv(0xa0 + n, item);
const utf8 = (text: string) => tlv(0x0c, new TextEncoder().encode(text));
const bitString = (content: Uint8Array) => tlv(0x03, bytes([0], content));
const octetString = (content: Uint8Array) => tlv(0x04, content);

/** A non-negative INTEGER from big-endian bytes. */
function integer(value: Uint8Array): Uint8Array {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const trimmed = value.subarray(start);
  return tlv(0x02, trimmed[0] & 0x80 ? bytes([0], trimmed) : trimmed);
}

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const base128 = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
    out.push(...base128);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** UTCTime, YYMMDDHHMMSSZ (valid until 2049). */
function utcTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-11-30T14:22:05.123Z
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) +
    iso.slice(14, 16) + iso.slice(17, 19) + "Z";
  return tlv(0x17, new TextEncoder().encode(text));
}

const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(
    oid(id),
    ...(critical ? [tlv(0x01, new Uint8Array([0xff]))] : []),
    octetString(value),
  );
}

/** IPv4 or IPv6 text to its bytes; undefined for a DNS name. */
function ipBytes(host: string): Uint8Array | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return new Uint8Array(host.split(".").map(Number));
  if (!host.includes(":")) return undefined;
  const [head, tail = ""] = host.split("::");
  const groups = (s: string) => s ? s.split(":").map((g) => parseInt(g, 16)) : [];
  const h = groups(head);
  const t = host.includes("::") ? groups(tail) : [];
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return new Uint8Array(all.flatMap((g) => [g >> 8, g & 0xff]));
}

function subjectAltNames(hosts: string[]): Uint8Array {
  return sequence(...hosts.map((host) => {
    const ip = ipBytes(host);
    return ip ? tlv(0x87, ip) : tlv(0x82, new TextEncoder().encode(host));
  }));
}

/** WebCrypto's ECDSA signature (r‖s) as the DER SEQUENCE X.509 wants. */
function derSignature(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

function pem(label: string, der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  const lines = base64.match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

/** A key and a self-signed serving certificate for `hosts` (DNS names or IPs), valid `days`. */
export async function selfSignedCertificate(
  commonName: string,
  hosts: string[],
  days = 365,
  now = new Date(),
): Promise<{ cert: string; key: string }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const name = sequence(set(sequence(oid("2.5.4.3"), utf8(commonName))));
  const tbs = sequence(
    explicit(0, integer(new Uint8Array([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(
      utcTime(new Date(now.getTime() - 60_000)),
      utcTime(new Date(now.getTime() + days * 86_400_000)),
    ),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension("2.5.29.19", true, sequence()), // basicConstraints: not a CA
        // keyUsage: digitalSignature (bit 0; the first byte counts the 7 unused bits)
        extension("2.5.29.15", true, tlv(0x03, new Uint8Array([7, 0x80]))),
        extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
        extension("2.5.29.17", false, subjectAltNames(hosts)),
      ),
    ),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, tbs),
  );
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(derSignature(signature)));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return { cert: pem("CERTIFICATE", certificate), key: pem("PRIVATE KEY", pkcs8) };
}
