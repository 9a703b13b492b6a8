import { type HashHalves, hashBytesExtended, hashUint32Extended, hashUint32Halves } from "./lookup3.ts";

/**
 * Shard-key column types and the PostgreSQL function that hashes each. smallint and integer use
 * `hashint8extended` too: PostgreSQL's hashint8 folds the high half into the low one so that
 * `hashint2extended(x) = hashint4extended(x) = hashint8extended(x)` for every x both accept (see
 * hashfunc.c; asserted on the server in test/key-hash.int.spec.ts). One function therefore
 * serves all three, and a column can be widened without moving a row.
 */
export const SHARD_KEY_TYPES = ["smallint", "integer", "bigint", "text", "uuid"] as const;
export type ShardKeyType = (typeof SHARD_KEY_TYPES)[number];

/** The SQL expression PostgreSQL evaluates for a key of each type (`$1` is the key). */
export const POSTGRES_HASH_FUNCTION: Readonly<Record<ShardKeyType, string>> = {
  smallint: "hashint8extended",
  integer: "hashint8extended",
  bigint: "hashint8extended",
  text: "hashtextextended",
  uuid: "uuid_hash_extended",
};

const INT_BOUNDS: Readonly<Record<"smallint" | "integer" | "bigint", readonly [bigint, bigint]>> = {
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** INT_BOUNDS of the types narrower than bigint, as numbers (exact: all below 2^53). */
const SAFE_INT_BOUNDS: Readonly<Record<"smallint" | "integer", readonly [number, number]>> = {
  smallint: [-(2 ** 15), 2 ** 15 - 1],
  integer: [-(2 ** 31), 2 ** 31 - 1],
};

/** A key that does not fit its declared type; `message` is written for the API's client. */
export class InvalidShardKeyError extends Error {
  override readonly name = "InvalidShardKeyError";
  readonly code = "INVALID_SHARD_KEY";
}

/** PostgreSQL's `hashint8extended(k, seed)`: the int8 hash, as a signed 64-bit bigint. */
export function hashInt8Extended(k: bigint, seed = 0n): bigint {
  const val = BigInt.asIntN(64, k);
  const lo = Number(BigInt.asUintN(32, val));
  const hi = Number(BigInt.asUintN(32, val >> 32n));
  // Same folding as hashint8: negative values flip the high half, so small negatives hash like int4.
  return hashUint32Extended((lo ^ (val >= 0n ? hi : ~hi)) >>> 0, seed);
}

/** hashInt8Extended for a JS safe integer, without BigInt arithmetic (the router's hot path). */
export function hashSafeIntegerExtended(k: number, seed = 0n): bigint {
  if (!Number.isSafeInteger(k)) return hashInt8Extended(BigInt(k), seed);
  // ToUint32 is exact for safe integers; the division by 2^32 is exact in binary floating point.
  const lo = k >>> 0;
  const hi = Math.floor(k / 2 ** 32) >>> 0;
  return hashUint32Extended((lo ^ (k >= 0 ? hi : ~hi)) >>> 0, seed);
}

/**
 * `hashSafeIntegerExtended(k)` as halves (see `HashHalves`), without BigInt: for `k` a safe
 * integer (the caller checks).
 */
export function hashSafeIntegerHalves(k: number, out: HashHalves): void {
  const lo = k >>> 0;
  const hi = Math.floor(k / 2 ** 32) >>> 0;
  hashUint32Halves((lo ^ (k >= 0 ? hi : ~hi)) >>> 0, out);
}

/**
 * `hashInt8Extended` of the int8 whose high half is `hi` (signed int32) and low half `lo`
 * (uint32) — a binary int8 parameter's two words — as halves, without BigInt.
 */
export function hashInt8HalvesOf(hi: number, lo: number, out: HashHalves): void {
  hashUint32Halves((lo ^ (hi >= 0 ? hi : ~hi)) >>> 0, out);
}

const encoder = new TextEncoder();

/**
 * PostgreSQL's `hashtextextended(k, seed)` for a deterministic collation: lookup3 over the UTF-8
 * bytes. Columns with a nondeterministic (ICU) collation hash the collation's sort key instead and
 * are not supported as shard keys.
 */
export function hashTextExtended(k: string, seed = 0n): bigint {
  return hashBytesExtended(encoder.encode(k), seed);
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Parses a uuid in PostgreSQL's canonical (or unhyphenated) form to its 16 bytes. */
export function uuidBytes(k: string): Uint8Array {
  if (!UUID.test(k)) throw new InvalidShardKeyError(`"${k}" is not a uuid`);
  const hex = k.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** PostgreSQL's `uuid_hash_extended(k, seed)`: lookup3 over the 16 bytes. */
export function hashUuidExtended(k: string, seed = 0n): bigint {
  return hashBytesExtended(uuidBytes(k), seed);
}

const INTEGER_TEXT = /^-?\d+$/;
/** Decimal text every value of which is a safe integer (15 digits: below 2^53). */
const SHORT_INTEGER_TEXT = /^-?\d{1,15}$/;

/** Parses an integer key (number or decimal string) and checks it fits the column type. */
export function parseIntegerKey(type: "smallint" | "integer" | "bigint", value: unknown): bigint {
  let n: bigint;
  if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && INTEGER_TEXT.test(value.trim())) n = BigInt(value.trim());
  else if (typeof value === "bigint") n = value;
  else throw new InvalidShardKeyError(`must be an integer (a number or a decimal string) for type ${type}`);
  const [min, max] = INT_BOUNDS[type];
  if (n < min || n > max) throw new InvalidShardKeyError(`${n} is out of range for type ${type}`);
  return n;
}

/**
 * The keyspace position of a typed shard key: what PostgreSQL's own hash function returns for it
 * with seed 0. Throws InvalidShardKeyError when the value does not fit the type.
 */
export function hashShardKey(type: ShardKeyType, value: unknown): bigint {
  switch (type) {
    case "text":
      if (typeof value !== "string") throw new InvalidShardKeyError("must be a string for type text");
      if (value.includes("\u0000")) throw new InvalidShardKeyError("text cannot contain NUL characters");
      return hashTextExtended(value);
    case "uuid":
      if (typeof value !== "string") throw new InvalidShardKeyError("must be a uuid string for type uuid");
      return hashUuidExtended(value);
    default: {
      // A key as text of at most 15 digits (a bound text parameter: pgbench's, most drivers') is
      // a safe integer: hashed without BigInt parsing and arithmetic, the router's hot path.
      const key = typeof value === "string" && SHORT_INTEGER_TEXT.test(value) ? Number(value) : value;
      if (typeof key === "number" && Number.isSafeInteger(key)) {
        // Every safe integer fits a bigint; the narrower types are checked without BigInt.
        if (type !== "bigint") {
          const [min, max] = SAFE_INT_BOUNDS[type];
          if (key < min || key > max)
            throw new InvalidShardKeyError(`${key} is out of range for type ${type}`);
        }
        return hashSafeIntegerExtended(key);
      }
      return hashInt8Extended(parseIntegerKey(type, key));
    }
  }
}
