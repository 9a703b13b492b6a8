import { randomInt } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { createSecureContext } from "node:tls";
import { backendMessage } from "./backend-messages.ts";
import {
  type Authenticated,
  type BackendKey,
  fatalFields,
  type RoleLookup,
  runHandshake,
} from "./handshake.ts";
import { TransactionStatus } from "./protocol-codes.ts";
import type { StartupParameters } from "./startup-packet.ts";
import { type NoticeFields, SqlState, WireError } from "./wire-error.ts";
import { SessionConnection, type SessionHandler, type WireSession } from "./wire-session.ts";

/** Options of `createWireServer`. */
export interface WireServerOptions {
  /** Looks up the startup's role verifier and database; see `RoleLookup`. */
  readonly authenticate: (parameters: StartupParameters) => RoleLookup | Promise<RoleLookup>;
  /**
   * Called once a client is authenticated, before the greeting (ParameterStatus, BackendKeyData,
   * ReadyForQuery): returns the handler of its messages. A WireError thrown here is the client's
   * answer (e.g. 53300 too many connections), sent as FATAL.
   */
  readonly onSession: (session: WireSession) => SessionHandler | Promise<SessionHandler>;
  /** A CancelRequest's key; the server has already closed that connection (it is never answered). */
  readonly onCancel?: (key: BackendKey) => void;
  /** A failure that is not the client's (a throwing callback): for the log. The client gets XX000. */
  readonly onError?: (error: unknown) => void;
  /** PEM certificate and key: SSLRequest is answered `S` and the connection upgraded; else `N`. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** ParameterStatus values of the greeting, over the defaults; `server_version` is required. */
  readonly serverParameters: Readonly<Record<string, string>> & { readonly server_version: string };
  /** Time from connect to authenticated before the connection is dropped (PostgreSQL: 60 s). */
  readonly authenticationTimeoutMs?: number;
}

/** A listening PostgreSQL protocol endpoint. */
export interface WireServer {
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, ends every open connection with 57P01, closes every session. */
  close(): Promise<void>;
}

const defaultParameters = {
  client_encoding: "UTF8",
  DateStyle: "ISO, MDY",
  default_transaction_read_only: "off",
  in_hot_standby: "off",
  integer_datetimes: "on",
  IntervalStyle: "postgres",
  is_superuser: "off",
  server_encoding: "UTF8",
  standard_conforming_strings: "on",
  TimeZone: "UTC",
} as const;

const shutdownNotice: NoticeFields = {
  severity: "FATAL",
  code: SqlState.AdminShutdown,
  message: "terminating connection due to administrator command",
};

/**
 * A PostgreSQL protocol v3 server: TLS via SSLRequest, GSSENCRequest refused, CancelRequest
 * handed to `onCancel`, SCRAM-SHA-256 as the only authentication, then the greeting and the
 * client's messages framed for the session handler that `onSession` returns.
 */
export function createWireServer(options: WireServerOptions): WireServer {
  const secureContext =
    options.tls === undefined
      ? undefined
      : createSecureContext({ cert: options.tls.cert, key: options.tls.key });
  const handshaking = new Set<Socket>();
  const sessions = new Set<SessionConnection>();

  async function serve(socket: Socket): Promise<void> {
    handshaking.add(socket);
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    const timeout = setTimeout(() => socket.destroy(), options.authenticationTimeoutMs ?? 60_000);
    const authenticated = await runHandshake(socket, {
      authenticate: options.authenticate,
      onCancel: options.onCancel,
      onError: options.onError,
      secureContext,
    });
    clearTimeout(timeout);
    handshaking.delete(socket);
    if (authenticated !== undefined) await startSession(authenticated);
  }

  async function startSession({ stream, reader, parameters, encrypted }: Authenticated): Promise<void> {
    const backendKey = { processId: randomInt(1, 2 ** 31), secretKey: randomInt(-(2 ** 31), 2 ** 31) };
    const session = new SessionConnection(stream, parameters, backendKey, encrypted, options.onError);
    sessions.add(session);
    stream.on("close", () => sessions.delete(session));
    let handler: SessionHandler;
    try {
      handler = await options.onSession(session);
    } catch (error) {
      if (!(error instanceof WireError)) options.onError?.(error);
      session.end(fatalFields(error));
      return;
    }
    // The client left, or the server began closing, while onSession was at work.
    if (session.closed) {
      handler.close();
      return;
    }
    const announced = {
      ...defaultParameters,
      application_name: parameters.all.application_name ?? "",
      session_authorization: parameters.user,
      ...options.serverParameters,
      ...handler.parameters,
    };
    const greeting = Object.entries(announced).map(([name, value]) =>
      backendMessage.parameterStatus(name, value),
    );
    greeting.push(backendMessage.backendKeyData(backendKey.processId, backendKey.secretKey));
    greeting.push(backendMessage.readyForQuery(TransactionStatus.Idle));
    session.write(Buffer.concat(greeting));
    session.start(handler, reader.detach());
  }

  const server: Server = createServer((socket) => {
    void serve(socket);
  });

  return {
    async listen(port, host = "127.0.0.1") {
      server.listen(port, host);
      await once(server, "listening");
      return server.address() as AddressInfo;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.end(shutdownNotice);
      for (const socket of handshaking) socket.destroy();
      await closed;
    },
  };
}
