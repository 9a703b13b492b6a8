import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type SecureContext, TLSSocket } from "node:tls";
import { backendMessage } from "./backend-messages.ts";
import { parseSaslInitialResponse, parseSaslResponse } from "./frontend-messages.ts";
import { ClientGoneError, HandshakeReader } from "./handshake-reader.ts";
import { FrontendMessageType } from "./protocol-codes.ts";
import { SCRAM_SHA_256, ScramExchange } from "./scram-exchange.ts";
import { InvalidScramVerifierError, parseScramVerifier, type ScramVerifier } from "./scram-verifier.ts";
import { parseStartupPacket, type StartupParameters } from "./startup-packet.ts";
import { type NoticeFields, protocolViolation, SqlState, WireError } from "./wire-error.ts";

/** What authentication needs to know about a startup's user and database. */
export interface RoleLookup {
  /**
   * The role's SCRAM verifier in PostgreSQL's format, `undefined` when the role does not exist
   * (the client then fails authentication exactly as with a wrong password).
   */
  readonly verifier: string | undefined;
  /** Checked after authentication succeeds, as PostgreSQL does: `false` answers 3D000. */
  readonly databaseExists: boolean;
}

/** A process id and secret key: what BackendKeyData announces and CancelRequest quotes back. */
export interface BackendKey {
  readonly processId: number;
  readonly secretKey: number;
}

export interface HandshakeOptions {
  readonly authenticate: (parameters: StartupParameters) => RoleLookup | Promise<RoleLookup>;
  readonly onCancel: ((key: BackendKey) => void) | undefined;
  readonly secureContext: SecureContext | undefined;
  /** A failure that is not the client's (a throwing `authenticate`). */
  readonly onError: ((error: unknown) => void) | undefined;
}

/** An authenticated connection, AuthenticationOk sent, ready for the session's greeting. */
export interface Authenticated {
  readonly stream: Duplex;
  readonly reader: HandshakeReader;
  readonly parameters: StartupParameters;
  readonly encrypted: boolean;
}

/**
 * Runs a connection from its first byte to AuthenticationOk: SSL and GSS requests, a cancel
 * request (handed on, then the connection closes), the startup packet, SCRAM. A refusal is
 * answered with a FATAL ErrorResponse and the connection ended; then it resolves `undefined`.
 */
export async function runHandshake(
  socket: Socket,
  options: HandshakeOptions,
): Promise<Authenticated | undefined> {
  const state: HandshakeState = { stream: socket, reader: new HandshakeReader(socket), encrypted: false };
  try {
    return await negotiate(socket, state, options);
  } catch (error) {
    if (error instanceof ClientGoneError) {
      socket.destroy();
      return undefined;
    }
    if (!(error instanceof WireError)) options.onError?.(error);
    state.stream.end(backendMessage.errorResponse(fatalFields(error)));
    return undefined;
  }
}

/** The fields of a FATAL answer to `error`: its own for a WireError, else an internal error. */
export function fatalFields(error: unknown): NoticeFields {
  if (error instanceof WireError) return { ...error.fields, severity: "FATAL" };
  return { severity: "FATAL", code: "XX000", message: "internal error" };
}

interface HandshakeState {
  stream: Duplex;
  reader: HandshakeReader;
  encrypted: boolean;
}

async function negotiate(socket: Socket, state: HandshakeState, options: HandshakeOptions) {
  for (;;) {
    const packet = parseStartupPacket(await state.reader.untyped());
    if (packet.kind === "cancel-request") {
      state.reader.detach();
      socket.destroy();
      options.onCancel?.({ processId: packet.processId, secretKey: packet.secretKey });
      return undefined;
    }
    if (packet.kind === "gssenc-request") {
      state.stream.write("N");
      continue;
    }
    if (packet.kind === "ssl-request") {
      upgrade(socket, state, options.secureContext);
      continue;
    }
    if (packet.parameters === undefined) {
      throw new WireError({
        severity: "FATAL",
        code: SqlState.FeatureNotSupported,
        message: `unsupported frontend protocol ${packet.majorVersion}.${packet.minorVersion}: server supports 3.0 to 3.0`,
      });
    }
    const protocolOptions = Object.keys(packet.parameters.all).filter((name) => name.startsWith("_pq_."));
    if (packet.minorVersion > 0 || protocolOptions.length > 0) {
      state.stream.write(backendMessage.negotiateProtocolVersion(0, protocolOptions));
    }
    await authenticate(state.stream, state.reader, packet.parameters, options);
    return {
      stream: state.stream,
      reader: state.reader,
      parameters: packet.parameters,
      encrypted: state.encrypted,
    };
  }
}

function upgrade(socket: Socket, state: HandshakeState, secureContext: SecureContext | undefined): void {
  if (state.encrypted) throw protocolViolation("SSL request after SSL was negotiated");
  if (secureContext === undefined) {
    state.stream.write("N");
    return;
  }
  // Bytes sent behind the SSLRequest before our answer would bypass TLS (CVE-2021-23214).
  if (state.reader.detach().length > 0)
    throw protocolViolation("received unencrypted data after SSL request");
  socket.write("S");
  const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext });
  tlsSocket.on("error", () => tlsSocket.destroy());
  state.stream = tlsSocket;
  state.reader = new HandshakeReader(tlsSocket);
  state.encrypted = true;
}

async function authenticate(
  stream: Duplex,
  reader: HandshakeReader,
  parameters: StartupParameters,
  options: HandshakeOptions,
): Promise<void> {
  const lookup = await options.authenticate(parameters);
  const exchange = new ScramExchange(parameters.user, verifierOf(lookup));
  stream.write(backendMessage.authenticationSasl([SCRAM_SHA_256]));

  const initial = await reader.typed();
  if (initial.type !== FrontendMessageType.Password) {
    throw protocolViolation(`expected SASL response, got message type ${initial.type}`);
  }
  const { mechanism, data } = parseSaslInitialResponse(initial);
  if (mechanism !== SCRAM_SHA_256) {
    throw protocolViolation("client selected an invalid SASL authentication mechanism");
  }
  if (data === null) throw protocolViolation("malformed SCRAM message: empty message");
  stream.write(backendMessage.authenticationSaslContinue(exchange.serverFirst(data.toString("utf8"))));

  const final = await reader.typed();
  const serverFinal = exchange.serverFinal(parseSaslResponse(final).toString("utf8"));
  stream.write(backendMessage.authenticationSaslFinal(serverFinal));
  stream.write(backendMessage.authenticationOk());
  if (!lookup.databaseExists) {
    throw new WireError({
      severity: "FATAL",
      code: SqlState.InvalidCatalogName,
      message: `database "${parameters.database}" does not exist`,
    });
  }
}

function verifierOf(lookup: RoleLookup): ScramVerifier | undefined {
  if (lookup.verifier === undefined) return undefined;
  try {
    return parseScramVerifier(lookup.verifier);
  } catch (error) {
    // A stored secret we cannot read is a role that cannot log in, as in PostgreSQL.
    if (error instanceof InvalidScramVerifierError) return undefined;
    throw error;
  }
}
