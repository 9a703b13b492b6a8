import { MessageWriter } from "./message-writer.ts";
import { AuthenticationCode, BackendMessageType as T, type TransactionStatus } from "./protocol-codes.ts";
import type { NoticeFields } from "./wire-error.ts";

/** A column of a RowDescription. */
export interface FieldDescription {
  readonly name: string;
  /** OID of the table the column comes from, 0 if none. */
  readonly tableOid?: number;
  /** Attribute number of the column in that table, 0 if none. */
  readonly columnNumber?: number;
  readonly typeOid: number;
  /** pg_type.typlen: -1 for variable length. */
  readonly typeSize?: number;
  /** pg_attribute.atttypmod: -1 when the type has none. */
  readonly typeModifier?: number;
  /** 0 text, 1 binary. */
  readonly format?: 0 | 1;
}

/** A COPY's overall format and per-column formats (0 text, 1 binary). */
export interface CopyFormat {
  readonly format: 0 | 1;
  readonly columnFormats: readonly (0 | 1)[];
}

// The single-letter field codes of ErrorResponse/NoticeResponse, in the order PostgreSQL sends them.
const noticeFieldCodes: readonly (readonly [keyof NoticeFields, string])[] = [
  ["code", "C"],
  ["message", "M"],
  ["detail", "D"],
  ["hint", "H"],
  ["position", "P"],
  ["internalPosition", "p"],
  ["internalQuery", "q"],
  ["where", "W"],
  ["schema", "s"],
  ["table", "t"],
  ["column", "c"],
  ["dataType", "d"],
  ["constraint", "n"],
  ["file", "F"],
  ["line", "L"],
  ["routine", "R"],
];

function notice(type: number, fields: NoticeFields): Buffer {
  // S is the (possibly localized) severity, V the never-localized one clients match on.
  const writer = new MessageWriter(type, 128).int8(0x53).cstring(fields.severity);
  writer.int8(0x56).cstring(fields.severity);
  for (const [name, code] of noticeFieldCodes) {
    const value = fields[name];
    if (value !== undefined) writer.int8(code.charCodeAt(0)).cstring(value);
  }
  return writer.int8(0).finish();
}

function empty(type: number): Buffer {
  return new MessageWriter(type, 5).finish();
}

function copyResponse(type: number, { format, columnFormats }: CopyFormat): Buffer {
  const writer = new MessageWriter(type, 7 + 2 * columnFormats.length)
    .int8(format)
    .int16(columnFormats.length);
  for (const columnFormat of columnFormats) writer.int16(columnFormat);
  return writer.finish();
}

/**
 * Serializers for the messages a server sends, each returning the message's bytes. Values of a
 * DataRow are text (UTF-8 encoded here) or bytes as they are (binary format); `null` is SQL NULL.
 */
const readyForQueryBytes = new Map<string, Buffer>();

export const backendMessage = {
  authenticationOk: (): Buffer =>
    new MessageWriter(T.Authentication, 9).int32(AuthenticationCode.Ok).finish(),

  /** AuthenticationSASL listing the mechanisms the server offers. */
  authenticationSasl: (mechanisms: readonly string[]): Buffer => {
    const writer = new MessageWriter(T.Authentication).int32(AuthenticationCode.SASL);
    for (const mechanism of mechanisms) writer.cstring(mechanism);
    return writer.int8(0).finish();
  },

  authenticationSaslContinue: (data: string): Buffer =>
    new MessageWriter(T.Authentication)
      .int32(AuthenticationCode.SASLContinue)
      .bytes(Buffer.from(data))
      .finish(),

  authenticationSaslFinal: (data: string): Buffer =>
    new MessageWriter(T.Authentication).int32(AuthenticationCode.SASLFinal).bytes(Buffer.from(data)).finish(),

  backendKeyData: (processId: number, secretKey: number): Buffer =>
    new MessageWriter(T.BackendKeyData, 13).int32(processId).int32(secretKey).finish(),

  bindComplete: (): Buffer => empty(T.BindComplete),

  closeComplete: (): Buffer => empty(T.CloseComplete),

  /** CommandComplete with its tag, e.g. `SELECT 3`, `INSERT 0 1`. */
  commandComplete: (tag: string): Buffer => new MessageWriter(T.CommandComplete).cstring(tag).finish(),

  copyData: (data: Uint8Array): Buffer => new MessageWriter(T.CopyData, 5 + data.length).bytes(data).finish(),

  copyDone: (): Buffer => empty(T.CopyDone),

  copyInResponse: (format: CopyFormat): Buffer => copyResponse(T.CopyInResponse, format),

  copyOutResponse: (format: CopyFormat): Buffer => copyResponse(T.CopyOutResponse, format),

  dataRow: (values: readonly (Uint8Array | string | null)[]): Buffer => {
    const writer = new MessageWriter(T.DataRow, 128).int16(values.length);
    for (const value of values) {
      if (value === null) {
        writer.int32(-1);
      } else {
        const bytes = typeof value === "string" ? Buffer.from(value) : value;
        writer.int32(bytes.length).bytes(bytes);
      }
    }
    return writer.finish();
  },

  emptyQueryResponse: (): Buffer => empty(T.EmptyQueryResponse),

  errorResponse: (fields: NoticeFields): Buffer => notice(T.ErrorResponse, fields),

  /** NegotiateProtocolVersion: the newest minor version served and the options not recognized. */
  negotiateProtocolVersion: (newestMinor: number, unrecognizedOptions: readonly string[]): Buffer => {
    const writer = new MessageWriter(T.NegotiateProtocolVersion)
      .int32(newestMinor)
      .int32(unrecognizedOptions.length);
    for (const option of unrecognizedOptions) writer.cstring(option);
    return writer.finish();
  },

  noData: (): Buffer => empty(T.NoData),

  noticeResponse: (fields: NoticeFields): Buffer => notice(T.NoticeResponse, fields),

  parameterDescription: (typeOids: readonly number[]): Buffer => {
    const writer = new MessageWriter(T.ParameterDescription, 7 + 4 * typeOids.length).int16(typeOids.length);
    for (const oid of typeOids) writer.int32(oid);
    return writer.finish();
  },

  parameterStatus: (name: string, value: string): Buffer =>
    new MessageWriter(T.ParameterStatus).cstring(name).cstring(value).finish(),

  parseComplete: (): Buffer => empty(T.ParseComplete),

  portalSuspended: (): Buffer => empty(T.PortalSuspended),

  /** One shared buffer per status (sent once per batch; never to be written to). */
  readyForQuery: (status: TransactionStatus): Buffer => {
    let bytes = readyForQueryBytes.get(status);
    if (bytes === undefined) {
      bytes = new MessageWriter(T.ReadyForQuery, 6).int8(status.charCodeAt(0)).finish();
      readyForQueryBytes.set(status, bytes);
    }
    return bytes;
  },

  rowDescription: (fields: readonly FieldDescription[]): Buffer => {
    const writer = new MessageWriter(T.RowDescription, 7 + fields.length * 32).int16(fields.length);
    for (const field of fields) {
      writer
        .cstring(field.name)
        .int32(field.tableOid ?? 0)
        .int16(field.columnNumber ?? 0)
        .int32(field.typeOid)
        .int16(field.typeSize ?? -1)
        .int32(field.typeModifier ?? -1)
        .int16(field.format ?? 0);
    }
    return writer.finish();
  },
} as const;
