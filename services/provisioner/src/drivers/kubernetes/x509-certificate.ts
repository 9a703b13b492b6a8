import { createHash, createPublicKey, type KeyObject, randomBytes, sign } from "node:crypto";

/*
 * X.509 v3 certificates signed with node:crypto. Node verifies and parses certificates
 * (X509Certificate) but cannot make one, the runtime image has no openssl (the local driver's
 * tool), and the repository holds no X.509 library: what is left is DER encoding (RFC 5280), a
 * few dozen lines; the keys and the ECDSA signatures are node's. Certificates are P-256/SHA-256,
 * the shape the local CA (openssl) makes.
 */

const der = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : (() => {
          const bytes: number[] = [];
          for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
          return Buffer.from([0x80 | bytes.length, ...bytes]);
        })();
  return Buffer.concat([Buffer.from([tag]), length, content]);
};
const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const explicit = (n: number, item: Buffer) => der(0xa0 + n, item);
const octets = (content: Buffer) => der(0x04, content);
const bits = (content: Buffer, unused = 0) => der(0x03, Buffer.concat([Buffer.from([unused]), content]));
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

/** A positive INTEGER from big-endian bytes (a leading 0x00 when the top bit is set). */
const integer = (bytes: Buffer) =>
  der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return date.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : der(0x18, Buffer.from(`${iso}Z`));
}

const commonName = (cn: string) => sequence(set(sequence(oid("2.5.4.3"), der(0x0c, Buffer.from(cn)))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  sequence(oid(id), ...(critical ? [TRUE] : []), octets(value));
const ECDSA_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

/** SHA-1 of the subjectPublicKey bits: RFC 5280's method (1) key identifier. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: "spki", format: "der" });
  // P-256 SPKI: a fixed 26-byte header, then the BIT STRING's 65-byte uncompressed point.
  return createHash("sha1")
    .update(spki.subarray(spki.length - 65))
    .digest();
}

export interface CertificateRequest {
  /** The certificate's subject CN. */
  readonly commonName: string;
  /** Public key of the subject (P-256). */
  readonly publicKey: KeyObject;
  /** DNS names (subjectAltName); a leading `*.` is a wildcard of one label. */
  readonly dnsNames?: readonly string[];
  /** A CA certificate (keyCertSign) rather than a TLS server certificate. */
  readonly isCa?: boolean;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The signer: its name and key; undefined issuer signs the request with its own key (a root CA). */
export interface CertificateIssuer {
  readonly commonName: string;
  readonly privateKey: KeyObject;
}

/** A DER-encoded, PEM-wrapped X.509 v3 certificate for `request`, signed by `issuer`. */
export function issueCertificate(request: CertificateRequest, issuer: CertificateIssuer): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const issuerKey = createPublicKey(issuer.privateKey);
  const extensions = [
    extension("2.5.29.19", true, request.isCa ? sequence(TRUE) : sequence()),
    // keyUsage: keyCertSign + cRLSign (bits 5, 6) for a CA, digitalSignature (bit 0) for a server.
    extension("2.5.29.15", true, request.isCa ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)),
    extension("2.5.29.14", false, octets(keyIdentifier(request.publicKey))),
    extension("2.5.29.35", false, sequence(der(0x80, keyIdentifier(issuerKey)))),
    ...(request.isCa ? [] : [extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1")))]),
    ...(request.dnsNames?.length
      ? [extension("2.5.29.17", false, sequence(...request.dnsNames.map((n) => der(0x82, Buffer.from(n)))))]
      : []),
  ];
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    commonName(issuer.commonName),
    sequence(time(request.notBefore), time(request.notAfter)),
    commonName(request.commonName),
    request.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign("sha256", tbs, issuer.privateKey);
  const body = sequence(tbs, ECDSA_SHA256, bits(signature)).toString("base64");
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)?.join("\n")}\n-----END CERTIFICATE-----\n`;
}
