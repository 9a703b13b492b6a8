import { FrontendMessageType as F, MESSAGE_BODY_OFFSET } from "@dbplane/pgwire";
import type { ShardKeyType } from "@dbplane/sharding";
import type { StatementPlan } from "@dbplane/sqlroute";

/**
 * A simple query keyed by one integer literal, as bytes around that literal: a later Query whose
 * bytes are the same but for other digits in its place is the same statement for another key
 * (pgbench -S, most ORMs without bound parameters), routed without decoding or planning it again.
 * `owner` is what the plan came from (the planner of the map's sharded tables): a shape is only
 * good while the session plans with it.
 */
export interface QueryShape {
  readonly owner: object;
  readonly keyType: ShardKeyType;
  readonly write: boolean;
  /** The Query's body before the literal, and after it (its NUL included). */
  readonly head: Buffer;
  readonly tail: Buffer;
}

/** Decimal digits a safe integer always fits (as sqlroute's shape cache and key hash take them). */
const MAX_DIGITS = 15;
const INTEGER_KEY_TYPES: ReadonlySet<ShardKeyType> = new Set(["smallint", "integer", "bigint"]);

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/** Whether a byte may stand next to a literal that stands alone: not part of a name or a number. */
function isBoundary(byte: number | undefined): boolean {
  if (byte === undefined) return false;
  const word =
    isDigit(byte) ||
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    byte === 0x5f ||
    byte === 0x24 ||
    byte >= 0x80;
  return !word && byte !== 0x2e;
}

/** The bytes a key literal may follow (past blanks): `=`, `(`, `,` — never a sign or an operator. */
function isKeyOpener(byte: number | undefined): boolean {
  return byte === 0x3d || byte === 0x28 || byte === 0x2c;
}

function isBlank(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * The shape of `query` (one Query message) whose `plan` is keyed by exactly one integer literal
 * that appears once in it, standing alone right after `=`, `(` or `,`; undefined otherwise.
 */
export function queryShape(query: Buffer, plan: StatementPlan, owner: object): QueryShape | undefined {
  if (plan.kind !== "keyed" || plan.keys.length !== 1 || !INTEGER_KEY_TYPES.has(plan.keyType))
    return undefined;
  const key = plan.keys[0]!;
  if (key.kind !== "const" || key.value.length > MAX_DIGITS || !/^\d+$/.test(key.value)) return undefined;
  const at = query.indexOf(key.value, MESSAGE_BODY_OFFSET, "latin1");
  if (at < 0 || query.indexOf(key.value, at + 1, "latin1") >= 0) return undefined;
  const end = at + key.value.length;
  if (!isBoundary(query[at - 1]) || !isBoundary(query[end])) return undefined;
  let before = at - 1;
  while (before > MESSAGE_BODY_OFFSET && isBlank(query[before])) before--;
  if (!isKeyOpener(query[before])) return undefined;
  return {
    owner,
    keyType: plan.keyType,
    write: plan.write,
    head: Buffer.from(query.subarray(MESSAGE_BODY_OFFSET, at)),
    tail: Buffer.from(query.subarray(end)),
  };
}

/** The key literal of `query` (one Query message) when it has `shape`; undefined when it has not. */
export function shapedKey(query: Buffer, shape: QueryShape): string | undefined {
  const at = shapedKeyAt(query, shape);
  return at < 0 ? undefined : query.toString("latin1", at, query.length - shape.tail.length);
}

/**
 * Where the key literal of `query` starts when it has `shape` (it ends where `shape.tail`
 * starts), without making a string of it; -1 when it has not that shape.
 */
export function shapedKeyAt(query: Buffer, shape: QueryShape): number {
  const { head, tail } = shape;
  const digitsAt = MESSAGE_BODY_OFFSET + head.length;
  const digitsEnd = query.length - tail.length;
  const digits = digitsEnd - digitsAt;
  if (query[0] !== F.Query || digits < 1 || digits > MAX_DIGITS) return -1;
  for (let i = digitsAt; i < digitsEnd; i++) if (!isDigit(query[i])) return -1;
  // Compared in JS: for a statement's few dozen bytes, cheaper than Buffer#compare's call.
  if (!sameBytes(query, MESSAGE_BODY_OFFSET, head) || !sameBytes(query, digitsEnd, tail)) return -1;
  return digitsAt;
}

function sameBytes(bytes: Buffer, at: number, expected: Buffer): boolean {
  for (let i = expected.length - 1; i >= 0; i--) if (bytes[at + i] !== expected[i]) return false;
  return true;
}
