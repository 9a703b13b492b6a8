import { canonicalDecimal, compareDecimals, parseDecimal } from "./decimal-text.ts";
import { PlanError } from "./plan-types.ts";

/** Type OIDs of the values the merge reads (pg_type.oid). */
export const TYPE_OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
} as const;

const INTEGER_TYPES = new Set<number>([TYPE_OID.int2, TYPE_OID.int4, TYPE_OID.int8, TYPE_OID.oid]);
const FLOAT_TYPES = new Set<number>([TYPE_OID.float4, TYPE_OID.float8]);
/**
 * Types whose text sorts as the values do. Strings compare by code point: the order of the C and
 * C.UTF-8 collations the shards' databases use; a database with a linguistic collation would
 * order differently. ISO dates/timestamps, times, uuids, hex bytea and bool ("f" < "t") too.
 */
const TEXT_ORDERED_TYPES = new Set<number>([
  TYPE_OID.bool,
  TYPE_OID.bytea,
  TYPE_OID.char,
  TYPE_OID.name,
  TYPE_OID.text,
  TYPE_OID.bpchar,
  TYPE_OID.varchar,
  TYPE_OID.time,
  TYPE_OID.uuid,
]);
const DATE_TYPES = new Set<number>([TYPE_OID.date, TYPE_OID.timestamp]);

export type ValueComparator = (a: string, b: string) => number;

/** How two non-null values of a column compare, as PostgreSQL's default operator class orders them. */
export function comparatorFor(typeOid: number): ValueComparator {
  if (INTEGER_TYPES.has(typeOid)) return (a, b) => compareBigInts(BigInt(a), BigInt(b));
  if (typeOid === TYPE_OID.numeric) return (a, b) => compareDecimals(parseDecimal(a), parseDecimal(b));
  if (FLOAT_TYPES.has(typeOid)) return (a, b) => compareFloats(parseFloatText(a), parseFloatText(b));
  if (TEXT_ORDERED_TYPES.has(typeOid)) return compareCodePoints;
  if (DATE_TYPES.has(typeOid)) return (a, b) => compareWithInfinity(a, b, compareCodePoints);
  if (typeOid === TYPE_OID.timestamptz) return (a, b) => compareWithInfinity(a, b, compareTimestamptz);
  throw new PlanError("0A000", `ordering values of type OID ${typeOid} across shards is not supported`, {
    hint: "Order by a number, text, date or timestamp column, or name one shard key.",
  });
}

/** A value's identity for GROUP BY / DISTINCT: equal values of the type map to the same string. */
export function groupKeyFor(typeOid: number): (value: string) => string {
  if (INTEGER_TYPES.has(typeOid)) return (v) => BigInt(v).toString();
  if (typeOid === TYPE_OID.numeric) return (v) => canonicalDecimal(parseDecimal(v));
  if (FLOAT_TYPES.has(typeOid)) return (v) => String(parseFloatText(v) + 0); // -0 groups with 0
  if (typeOid === TYPE_OID.timestamptz) return (v) => timestamptzKey(v);
  return (v) => v;
}

function compareBigInts(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function parseFloatText(text: string): number {
  const lower = text.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "infinity") return Number.POSITIVE_INFINITY;
  if (lower === "-infinity") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** float8's order: NaN is greater than every other value and equal to itself. */
function compareFloats(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Code point order (UTF-16 code unit order differs for characters beyond the BMP). */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const surrogateX = x >= 0xd800 && x <= 0xdfff;
      const surrogateY = y >= 0xd800 && y <= 0xdfff;
      if (surrogateX === surrogateY) return x - y;
      return surrogateX ? 1 : -1; // a surrogate pair encodes a code point above every BMP character
    }
  }
  return a.length - b.length;
}

function compareWithInfinity(a: string, b: string, finite: ValueComparator): number {
  const rank = (v: string) => (v === "infinity" ? 1 : v === "-infinity" ? -1 : 0);
  for (const v of [a, b]) {
    if (v.endsWith(" BC")) throw new PlanError("0A000", "ordering BC dates across shards is not supported");
  }
  const ra = rank(a);
  const rb = rank(b);
  return ra !== 0 || rb !== 0 ? ra - rb : finite(a, b);
}

const TIMESTAMPTZ =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/;

/** Microseconds since the epoch of ISO timestamptz text (`2024-03-31 02:30:00.5+02`). */
function timestamptzMicros(text: string): bigint {
  const m = TIMESTAMPTZ.exec(text);
  if (m === null)
    throw new PlanError("0A000", `cannot order timestamptz value "${text}": DateStyle must be ISO`);
  const [, y, mo, d, h, mi, s, frac = "", sign, oh, om = "0", os = "0"] = m;
  const utcSeconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  const offset = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * (sign === "-" ? -1 : 1);
  return BigInt(utcSeconds - offset) * 1_000_000n + BigInt(frac.padEnd(6, "0"));
}

function compareTimestamptz(a: string, b: string): number {
  return compareBigInts(timestamptzMicros(a), timestamptzMicros(b));
}

function timestamptzKey(v: string): string {
  return v === "infinity" || v === "-infinity" ? v : timestamptzMicros(v).toString();
}
