import { BodyReader } from "./body-reader.ts";
import { MESSAGE_BODY_OFFSET, type WireMessage } from "./message-framer.ts";
import { FrontendMessageType as F } from "./protocol-codes.ts";
import { protocolViolation } from "./wire-error.ts";

/** Query: a simple-protocol query string (one or more statements). */
export interface QueryMessage {
  readonly sql: string;
}

/** Parse: a statement to prepare, `""` naming the unnamed statement. */
export interface ParseMessage {
  readonly statement: string;
  readonly sql: string;
  /** Parameter type OIDs the client specified; 0 leaves one to the server. */
  readonly parameterTypes: readonly number[];
}

/** Bind: a portal from a prepared statement and parameter values (`null` is SQL NULL). */
export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** None: all text; one: for all parameters; else one per parameter (0 text, 1 binary). */
  readonly parameterFormats: readonly number[];
  /** Views on the message: copy one to keep it past the message. */
  readonly parameters: readonly (Buffer | null)[];
  readonly resultFormats: readonly number[];
}

/** Describe or Close of a prepared statement (`S`) or a portal (`P`). */
export interface TargetMessage {
  readonly target: "S" | "P";
  readonly name: string;
}

/** Execute: run a portal, returning at most `maxRows` rows (0: all). */
export interface ExecuteMessage {
  readonly portal: string;
  readonly maxRows: number;
}

/** SASLInitialResponse: the mechanism the client chose and its first message. */
export interface SaslInitialResponseMessage {
  readonly mechanism: string;
  /** `null` when the client sent none (length -1). */
  readonly data: Buffer | null;
}

function bodyOf(message: WireMessage, type: number, name: string): BodyReader {
  if (message.type !== type) throw protocolViolation(`expected ${name} message`);
  return new BodyReader(message.bytes, MESSAGE_BODY_OFFSET);
}

function target(reader: BodyReader): TargetMessage {
  const target = String.fromCharCode(reader.int8());
  if (target !== "S" && target !== "P") throw protocolViolation(`invalid target type "${target}"`);
  return { target, name: reader.cstring() };
}

/** Parses a Query message. */
export function parseQuery(message: WireMessage): QueryMessage {
  return { sql: bodyOf(message, F.Query, "Query").cstring() };
}

/** Parses a Parse message. */
export function parseParse(message: WireMessage): ParseMessage {
  const reader = bodyOf(message, F.Parse, "Parse");
  return { statement: reader.cstring(), sql: reader.cstring(), parameterTypes: reader.int32List() };
}

/** Parses a Bind message. */
export function parseBind(message: WireMessage): BindMessage {
  const reader = bodyOf(message, F.Bind, "Bind");
  const portal = reader.cstring();
  const statement = reader.cstring();
  const parameterFormats = reader.int16List();
  const parameters: (Buffer | null)[] = [];
  for (let count = reader.int16(); count > 0; count--) {
    const length = reader.int32();
    parameters.push(length === -1 ? null : reader.bytes(length));
  }
  return { portal, statement, parameterFormats, parameters, resultFormats: reader.int16List() };
}

/** Parses a Describe message. */
export function parseDescribe(message: WireMessage): TargetMessage {
  return target(bodyOf(message, F.Describe, "Describe"));
}

/** Parses a Close message. */
export function parseClose(message: WireMessage): TargetMessage {
  return target(bodyOf(message, F.Close, "Close"));
}

/** Parses an Execute message. */
export function parseExecute(message: WireMessage): ExecuteMessage {
  const reader = bodyOf(message, F.Execute, "Execute");
  return { portal: reader.cstring(), maxRows: reader.int32() };
}

/** The payload of a CopyData message, as a view on it. */
export function parseCopyData(message: WireMessage): Buffer {
  if (message.type !== F.CopyData) throw protocolViolation("expected CopyData message");
  return message.bytes.subarray(MESSAGE_BODY_OFFSET);
}

/** The client's reason in a CopyFail message. */
export function parseCopyFail(message: WireMessage): string {
  return bodyOf(message, F.CopyFail, "CopyFail").cstring();
}

/** Parses a SASLInitialResponse (a `p` message answering AuthenticationSASL). */
export function parseSaslInitialResponse(message: WireMessage): SaslInitialResponseMessage {
  const reader = bodyOf(message, F.Password, "SASLInitialResponse");
  const mechanism = reader.cstring();
  const length = reader.int32();
  return { mechanism, data: length === -1 ? null : reader.bytes(length) };
}

/** The data of a SASLResponse (a `p` message answering AuthenticationSASLContinue). */
export function parseSaslResponse(message: WireMessage): Buffer {
  if (message.type !== F.Password) throw protocolViolation("expected SASL response");
  return message.bytes.subarray(MESSAGE_BODY_OFFSET);
}
