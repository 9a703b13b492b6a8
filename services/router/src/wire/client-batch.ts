import { FrontendMessageType as F, MESSAGE_BODY_OFFSET } from "@dbplane/pgwire";

/**
 * Reading a client's chunk just enough to pass it on whole: the shapes a driver sends for most
 * statements (a prepared statement's Bind, Describe, Execute, Sync; one Query), recognised by
 * their bytes alone, without framing them into messages or decoding what the router does not need.
 */

/** Where a Bind of the unnamed portal puts its statement name: right after the portal's NUL. */
export const BIND_STATEMENT_AT = MESSAGE_BODY_OFFSET + 1;

function int32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function int16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

/**
 * When `chunk` is exactly Bind (unnamed portal), Describe of that portal (optional), Execute of
 * it and Sync: where the Bind's statement name ends (its NUL); -1 for anything else.
 */
export function preparedBatchEnd(chunk: Uint8Array): number {
  if (chunk.length < 20 || chunk[0] !== F.Bind || chunk[MESSAGE_BODY_OFFSET] !== 0) return -1;
  let at = 1 + int32(chunk, 1);
  // Describe 'P' "" (6 bytes after the type byte), optional.
  if (chunk[at] === F.Describe) {
    if (int32(chunk, at + 1) !== 6 || chunk[at + 5] !== 0x50 || chunk[at + 6] !== 0) return -1;
    at += 7;
  }
  // Execute "" with its row limit, then Sync, then nothing.
  if (chunk[at] !== F.Execute || int32(chunk, at + 1) !== 9 || chunk[at + 5] !== 0) return -1;
  at += 10;
  if (chunk[at] !== F.Sync || int32(chunk, at + 1) !== 4 || at + 5 !== chunk.length) return -1;
  const statementEnd = chunk.indexOf(0, BIND_STATEMENT_AT);
  const bindEnd = 1 + int32(chunk, 1);
  return statementEnd > 0 && statementEnd < bindEnd ? statementEnd : -1;
}

/** Whether `chunk` is exactly one Query message. */
export function isOneQuery(chunk: Uint8Array): boolean {
  return (
    chunk.length > MESSAGE_BODY_OFFSET &&
    chunk[0] === F.Query &&
    1 + int32(chunk, 1) === chunk.length &&
    chunk[chunk.length - 1] === 0
  );
}

/** A bound parameter's place in a Bind: its bytes' start and length (-1: NULL) and its format. */
export interface BoundParameter {
  start: number;
  length: number;
  format: number;
}

/**
 * Finds parameter `index` of the Bind at the start of `bytes`, whose parameter formats begin at
 * `at` (after the statement name's NUL), into `out`. False when the Bind has no such parameter
 * or its lengths run past its end (the slow path then answers as it should).
 */
export function findBoundParameter(
  bytes: Uint8Array,
  at: number,
  index: number,
  out: BoundParameter,
): boolean {
  const end = 1 + int32(bytes, 1);
  if (at + 2 > end) return false;
  const formats = int16(bytes, at);
  const formatsAt = at + 2;
  at = formatsAt + 2 * formats;
  if (at + 2 > end) return false;
  const count = int16(bytes, at);
  if (index >= count || (formats > 1 && formats !== count)) return false;
  out.format = formats === 0 ? 0 : int16(bytes, formatsAt + (formats === 1 ? 0 : 2 * index));
  at += 2;
  for (let i = 0; ; i++) {
    if (at + 4 > end) return false;
    const length = int32(bytes, at) | 0;
    at += 4;
    if (i === index) {
      if (length > 0 && at + length > end) return false;
      out.start = at;
      out.length = length;
      return true;
    }
    if (length > 0) at += length;
  }
}

/**
 * A prepared batch (see `preparedBatchEnd`) naming `serverName` (NUL-terminated) instead of the
 * client's statement: the chunk itself when the names are the same, else one copy.
 */
export function renameBatchStatement(chunk: Buffer, statementEnd: number, serverName: Buffer): Buffer {
  const nameLength = statementEnd + 1 - BIND_STATEMENT_AT;
  if (
    nameLength === serverName.length &&
    chunk.compare(serverName, 0, nameLength, BIND_STATEMENT_AT, statementEnd + 1) === 0
  )
    return chunk;
  const out = Buffer.allocUnsafe(chunk.length - nameLength + serverName.length);
  chunk.copy(out, 0, 0, BIND_STATEMENT_AT);
  serverName.copy(out, BIND_STATEMENT_AT);
  chunk.copy(out, BIND_STATEMENT_AT + serverName.length, statementEnd + 1);
  out.writeInt32BE(int32(chunk, 1) + serverName.length - nameLength, 1);
  return out;
}
