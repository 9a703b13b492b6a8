import { BodyReader } from "./body-reader.ts";
import { StartupCode } from "./protocol-codes.ts";
import { protocolViolation, SqlState, WireError } from "./wire-error.ts";

/** PostgreSQL's limit for a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_LENGTH = 10_000;

/** The parameters of a StartupMessage, `user` always present. */
export interface StartupParameters {
  readonly user: string;
  /** Defaults to the user name, as in PostgreSQL. */
  readonly database: string;
  /** Every parameter the client sent, including `options`, `application_name`, `_pq_.*`. */
  readonly all: Readonly<Record<string, string>>;
}

/** The first packet of a connection, or of the connection after an SSL/GSS answer. */
export type StartupPacket =
  | { readonly kind: "ssl-request" }
  | { readonly kind: "gssenc-request" }
  | { readonly kind: "cancel-request"; readonly processId: number; readonly secretKey: number }
  | {
      readonly kind: "startup";
      readonly majorVersion: number;
      readonly minorVersion: number;
      /** `undefined` when the version is not 3.x (the parameters' layout is then unknown). */
      readonly parameters: StartupParameters | undefined;
    };

/**
 * The length of the untyped packet at the head of `bytes`, or `undefined` while its length field
 * is incomplete.
 * @throws WireError (08P01) for a length below 8 or above the startup limit
 */
export function startupPacketLength(bytes: Buffer): number | undefined {
  if (bytes.length < 4) return undefined;
  const length = bytes.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH)
    throw protocolViolation("invalid length of startup packet");
  return length;
}

/** Parses one whole untyped startup packet (length field included). */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  const reader = new BodyReader(packet, 4);
  const code = reader.int32();
  if (code === StartupCode.SSLRequest) return { kind: "ssl-request" };
  if (code === StartupCode.GSSENCRequest) return { kind: "gssenc-request" };
  if (code === StartupCode.CancelRequest) {
    return { kind: "cancel-request", processId: reader.int32(), secretKey: reader.int32() };
  }
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  if (majorVersion !== 3) return { kind: "startup", majorVersion, minorVersion, parameters: undefined };
  return { kind: "startup", majorVersion, minorVersion, parameters: startupParameters(reader) };
}

function startupParameters(reader: BodyReader): StartupParameters {
  const all: Record<string, string> = {};
  for (;;) {
    const name = reader.cstring();
    if (name === "") break;
    all[name] = reader.cstring();
  }
  if (reader.remaining !== 0)
    throw protocolViolation("invalid startup packet layout: expected terminator as last byte");
  const user = all.user;
  if (user === undefined || user === "") {
    throw new WireError({
      severity: "FATAL",
      code: SqlState.InvalidAuthorizationSpecification,
      message: "no PostgreSQL user name specified in startup packet",
    });
  }
  return { user, database: all.database || user, all };
}
