import {
  type HashHalves,
  hashInt8HalvesOf,
  hashSafeIntegerHalves,
  hashShardKey,
  InvalidShardKeyError,
  type ShardKeyType,
} from "@dbplane/sharding";
import type { KeyExpr } from "@dbplane/sqlroute";
import type { LiveMap } from "../shards/live-map.ts";

/** A Bind's parameters as the router needs them to find a key. */
export interface BoundParameters {
  readonly values: readonly (Buffer | null)[];
  /** Bind's format codes: none = all text, one = for all, else one per parameter. */
  readonly formats: readonly number[];
}

const noParameters: BoundParameters = { values: [], formats: [] };

/** The lowest serving shard: where statements that any shard can answer go. */
export function defaultShard(map: LiveMap): number {
  return map.serving[0] ?? Math.min(...map.shards.keys());
}

/**
 * The shard owning a key value, by PostgreSQL's own hash (`hashint8extended`, …). A value that
 * is not a valid key of its type (NULL, `'abc'` for a bigint) matches no row on any shard: the
 * default shard runs it, and PostgreSQL's own error or empty answer is the client's.
 */
export function shardOfKey(map: LiveMap, keyType: ShardKeyType, value: string | null): number {
  if (value === null) return defaultShard(map);
  try {
    return map.lookup.shardFor(hashShardKey(keyType, value));
  } catch (error) {
    if (error instanceof InvalidShardKeyError) return defaultShard(map);
    throw error;
  }
}

/** The bounds of the integer key types narrower than bigint (every safe integer fits a bigint). */
const INTEGER_BOUNDS: Readonly<Record<"smallint" | "integer", readonly [number, number]>> = {
  smallint: [-(2 ** 15), 2 ** 15 - 1],
  integer: [-(2 ** 31), 2 ** 31 - 1],
};

/** Decimal digits that always make a safe integer (below 2^53). */
const MAX_SAFE_DIGITS = 15;

/** Reused by `shardOfBoundKey`: finding a shard allocates nothing. */
const halves: HashHalves = { hi: 0, lo: 0 };

/**
 * The shard owning a bound parameter's key (`length` -1: NULL), read from its bytes at `start`:
 * `shardOfKey(map, keyType, parameterText(…))`, but an integer key — as text of at most 15
 * digits, or binary int2/int4/int8 — is hashed from the bytes with no string, regular
 * expression or BigInt made (the prepared path runs this once per statement).
 */
export function shardOfBoundKey(
  map: LiveMap,
  keyType: ShardKeyType,
  bytes: Buffer,
  start: number,
  length: number,
  format: number,
): number {
  if (length < 0) return defaultShard(map);
  if (keyType === "smallint" || keyType === "integer" || keyType === "bigint") {
    if (format === 1 && length === 8) {
      // Every int8 has a hash; an int2/int4 column's key out of its range falls through.
      if (keyType === "bigint") {
        hashInt8HalvesOf(bytes.readInt32BE(start), bytes.readUInt32BE(start + 4), halves);
        return map.lookup.shardForHalves(halves.hi, halves.lo);
      }
    } else {
      const key =
        format === 1
          ? length === 4
            ? bytes.readInt32BE(start)
            : length === 2
              ? bytes.readInt16BE(start)
              : Number.NaN
          : decimalKey(bytes, start, length);
      if (
        !Number.isNaN(key) &&
        (keyType === "bigint" || (key >= INTEGER_BOUNDS[keyType][0] && key <= INTEGER_BOUNDS[keyType][1]))
      ) {
        hashSafeIntegerHalves(key, halves);
        return map.lookup.shardForHalves(halves.hi, halves.lo);
      }
    }
  }
  return shardOfKey(map, keyType, parameterText(bytes, start, length, format));
}

/** The integer `bytes[start, start + length)` spells as `-?[0-9]{1,15}`; NaN for anything else. */
function decimalKey(bytes: Buffer, start: number, length: number): number {
  const negative = length > 0 && bytes[start] === 0x2d; /* - */
  const from = negative ? start + 1 : start;
  const end = start + length;
  if (end - from < 1 || end - from > MAX_SAFE_DIGITS) return Number.NaN;
  let value = 0;
  for (let i = from; i < end; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** A `SET dbplane.shard_key` value's type, guessed from its form (no statement names a table). */
export function hintKeyType(value: string): ShardKeyType {
  if (/^-?\d+$/.test(value)) return "bigint";
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return "uuid";
  return "text";
}

/** A key expression's value as text: a literal, or a bound parameter (text or binary integer/uuid). */
export function keyValue(expr: KeyExpr, parameters: BoundParameters = noParameters): string | null {
  if (expr.kind === "const") return expr.value;
  const value = parameters.values[expr.index];
  if (value === undefined || value === null) return null;
  const format =
    parameters.formats.length === 0
      ? 0
      : parameters.formats.length === 1
        ? parameters.formats[0]
        : parameters.formats[expr.index];
  return parameterText(value, 0, value.length, format ?? 0);
}

/**
 * A bound parameter's value as key text, from its bytes at `start` in `bytes`: text as it is,
 * binary integers and uuids decoded.
 */
export function parameterText(bytes: Buffer, start: number, length: number, format: number): string {
  if (format !== 1) return bytes.toString("utf8", start, start + length);
  switch (length) {
    case 2:
      return String(bytes.readInt16BE(start));
    case 4:
      return String(bytes.readInt32BE(start));
    case 8:
      return String(bytes.readBigInt64BE(start));
    case 16: {
      const hex = bytes.toString("hex", start, start + 16);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    default:
      return bytes.toString("utf8", start, start + length);
  }
}

/** The shards a statement's keys belong to, in index order. */
export function shardsOfKeys(
  map: LiveMap,
  keyType: ShardKeyType,
  keys: readonly KeyExpr[],
  parameters?: BoundParameters,
): number[] {
  if (keys.length === 1) return [shardOfKey(map, keyType, keyValue(keys[0]!, parameters))];
  const shards = new Set(keys.map((key) => shardOfKey(map, keyType, keyValue(key, parameters))));
  return [...shards].sort((a, b) => a - b);
}
