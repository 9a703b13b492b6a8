import { MESSAGE_BODY_OFFSET, type NoticeFields, type WireMessage } from "@dbplane/pgwire";
import { serialize } from "pg-protocol";

/** Bytes of frontend messages the router sends on its own behalf. */
export const frontend = {
  query: (sql: string): Buffer => serialize.query(sql),
  sync: (): Buffer => serialize.sync(),
  flush: (): Buffer => serialize.flush(),
  parse: (name: string, sql: string, types: readonly number[]): Buffer =>
    serialize.parse({ name, text: sql, types: [...types] }),
  describe: (type: "S" | "P", name: string): Buffer => serialize.describe({ type, name }),
  close: (type: "S" | "P", name: string): Buffer => serialize.close({ type, name }),
  execute: (portal: string): Buffer => serialize.execute({ portal, rows: 0 }),
  copyData: (data: Buffer): Buffer => serialize.copyData(data),
  copyDone: (): Buffer => serialize.copyDone(),
  copyFail: (reason: string): Buffer => serialize.copyFail(reason),
} as const;

/**
 * A Bind message naming another prepared statement (the server-side name of the client's) and,
 * when given, another portal; formats and values left as they are.
 */
export function renameBind(message: WireMessage, names: { statement: string; portal?: string }): Buffer {
  const bytes = message.bytes;
  const portalEnd = bytes.indexOf(0, MESSAGE_BODY_OFFSET);
  const statementEnd = bytes.indexOf(0, portalEnd + 1);
  const portal =
    names.portal === undefined ? bytes.subarray(MESSAGE_BODY_OFFSET, portalEnd) : Buffer.from(names.portal);
  const out = Buffer.concat([
    bytes.subarray(0, MESSAGE_BODY_OFFSET),
    portal,
    Buffer.from([0]),
    Buffer.from(`${names.statement}\0`),
    bytes.subarray(statementEnd + 1),
  ]);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}

/**
 * A Bind message naming another prepared statement, given as its NUL-terminated bytes; portal,
 * formats and values left as they are. One copy, no intermediate buffers: every Bind of a
 * client's named statement goes through here.
 */
export function renameBindStatement(message: WireMessage, statement: Buffer): Buffer {
  const bytes = message.bytes;
  const portalEnd = bytes.indexOf(0, MESSAGE_BODY_OFFSET);
  const statementEnd = bytes.indexOf(0, portalEnd + 1);
  const out = Buffer.allocUnsafe(portalEnd + 1 + statement.length + bytes.length - statementEnd - 1);
  bytes.copy(out, 0, 0, portalEnd + 1);
  statement.copy(out, portalEnd + 1);
  bytes.copy(out, portalEnd + 1 + statement.length, statementEnd + 1);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}

/** A Bind of the unnamed statement to the unnamed portal, every parameter and result as text. */
export function bindText(params: readonly (string | null)[]): Buffer {
  return serialize.bind({ values: [...params], valueMapper: (value) => value });
}

/** An ERROR for the client. */
export function errorFields(
  code: string,
  message: string,
  extra?: { hint?: string; detail?: string },
): NoticeFields {
  return {
    severity: "ERROR",
    code,
    message,
    ...(extra?.hint === undefined ? {} : { hint: extra.hint }),
    ...(extra?.detail === undefined ? {} : { detail: extra.detail }),
  };
}
