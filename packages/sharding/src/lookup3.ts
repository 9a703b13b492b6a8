// PostgreSQL's hash_bytes_extended / hash_bytes_uint32_extended (src/common/hashfn.c): Bob
// Jenkins' lookup3 with a 64-bit seed, little-endian word reads (x86-64 and arm64 servers; the
// aligned and unaligned code paths of the C version agree on little-endian machines). All
// arithmetic is on uint32 values held in JS numbers: `| 0` / `>>> 0` and Math.imul-free ops.

const rot = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The 96-bit lookup3 state; a small mutable object keeps the hot path free of allocations. */
interface State {
  a: number;
  b: number;
  c: number;
}

function mix(s: State): void {
  let { a, b, c } = s;
  a = (a - c) >>> 0;
  a = (a ^ rot(c, 4)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rot(a, 6)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rot(b, 8)) >>> 0;
  b = (b + a) >>> 0;
  a = (a - c) >>> 0;
  a = (a ^ rot(c, 16)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rot(a, 19)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rot(b, 4)) >>> 0;
  b = (b + a) >>> 0;
  s.a = a;
  s.b = b;
  s.c = c;
}

function final(s: State): void {
  let { a, b, c } = s;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 24)) >>> 0;
  s.a = a;
  s.b = b;
  s.c = c;
}

function initialState(length: number, seed: bigint): State {
  const start = (0x9e3779b9 + length + 3923095) >>> 0;
  const s: State = { a: start, b: start, c: start };
  if (seed !== 0n) {
    // As in PostgreSQL: the seed is treated as a 12-byte chunk of data padded with zeroes.
    s.a = (s.a + Number(BigInt.asUintN(32, seed >> 32n))) >>> 0;
    s.b = (s.b + Number(BigInt.asUintN(32, seed))) >>> 0;
    mix(s);
  }
  return s;
}

/** `((uint64) b << 32) | c` read as the signed int8 PostgreSQL returns. */
function result(s: State): bigint {
  return BigInt.asIntN(64, (BigInt(s.b) << 32n) | BigInt(s.c));
}

const word = (k: Uint8Array, i: number): number =>
  (k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24)) >>> 0;

/** PostgreSQL's `hash_bytes_extended(k, keylen, seed)` (what `hash_any_extended` calls). */
export function hashBytesExtended(k: Uint8Array, seed = 0n): bigint {
  const s = initialState(k.length, seed);
  let len = k.length;
  let i = 0;
  while (len >= 12) {
    s.a = (s.a + word(k, i)) >>> 0;
    s.b = (s.b + word(k, i + 4)) >>> 0;
    s.c = (s.c + word(k, i + 8)) >>> 0;
    mix(s);
    i += 12;
    len -= 12;
  }
  // The tail, byte by byte; the lowest byte of c is reserved for the length (already added).
  if (len >= 11) s.c = (s.c + (k[i + 10]! << 24)) >>> 0;
  if (len >= 10) s.c = (s.c + (k[i + 9]! << 16)) >>> 0;
  if (len >= 9) s.c = (s.c + (k[i + 8]! << 8)) >>> 0;
  if (len >= 8) s.b = (s.b + (k[i + 7]! << 24)) >>> 0;
  if (len >= 7) s.b = (s.b + (k[i + 6]! << 16)) >>> 0;
  if (len >= 6) s.b = (s.b + (k[i + 5]! << 8)) >>> 0;
  if (len >= 5) s.b = (s.b + k[i + 4]!) >>> 0;
  if (len >= 4) s.a = (s.a + (k[i + 3]! << 24)) >>> 0;
  if (len >= 3) s.a = (s.a + (k[i + 2]! << 16)) >>> 0;
  if (len >= 2) s.a = (s.a + (k[i + 1]! << 8)) >>> 0;
  if (len >= 1) s.a = (s.a + k[i]!) >>> 0;
  final(s);
  return result(s);
}

/** PostgreSQL's `hash_bytes_uint32_extended(k, seed)` (what `hash_uint32_extended` calls). */
export function hashUint32Extended(k: number, seed = 0n): bigint {
  const s = initialState(4, seed);
  s.a = (s.a + (k >>> 0)) >>> 0;
  final(s);
  return result(s);
}

/** A signed 64-bit hash as its halves: `hi` the high 32 bits as a signed int32, `lo` the low as uint32. */
export interface HashHalves {
  hi: number;
  lo: number;
}

/** Reused by `hashUint32Halves`: a hash allocates nothing. */
const scratch: State = { a: 0, b: 0, c: 0 };
const SEEDLESS_UINT32_START = (0x9e3779b9 + 4 + 3923095) >>> 0;

/**
 * `hashUint32Extended(k, 0)` into `out` as two 32-bit halves — no BigInt made (the router's
 * per-statement path: a BigInt result and its comparisons cost more than the hash itself).
 */
export function hashUint32Halves(k: number, out: HashHalves): void {
  const s = scratch;
  s.a = (SEEDLESS_UINT32_START + (k >>> 0)) >>> 0;
  s.b = SEEDLESS_UINT32_START;
  s.c = SEEDLESS_UINT32_START;
  final(s);
  out.hi = s.b | 0;
  out.lo = s.c;
}
