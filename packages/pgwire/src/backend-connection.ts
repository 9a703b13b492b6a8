import { connect, isIP, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { serialize } from "pg-protocol";
import { BodyReader } from "./body-reader.ts";
import type { BackendKey } from "./handshake.ts";
import { MESSAGE_BODY_OFFSET, MessageFramer, type WireMessage } from "./message-framer.ts";
import { AuthenticationCode, BackendMessageType as B } from "./protocol-codes.ts";
import { scanReply } from "./reply-scan.ts";
import { ScramClient } from "./scram-client.ts";
import { SCRAM_SHA_256 } from "./scram-exchange.ts";
import { type NoticeFields, SqlState, WireError } from "./wire-error.ts";

/** Where and as whom a backend connection logs in. */
export interface BackendConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** For SCRAM-SHA-256; a server that trusts the client never asks. */
  readonly password?: string;
  /** Further startup parameters (application_name, options, …). */
  readonly parameters?: Readonly<Record<string, string>>;
  /** From connect to the first ReadyForQuery (default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * Set: TLS is required and verified in full (libpq's `verify-full`) — the certificate must
   * chain to `ca` (PEM) and name `host` (an IP address is checked against its IP SANs).
   */
  readonly tls?: { readonly ca: string };
}

/** The server answered the SSLRequest with `N`: it serves no TLS, and this connection requires it. */
export class TlsRefusedError extends Error {
  override readonly name = "TlsRefusedError";
  readonly code = "TLS_REFUSED";
}

/**
 * A connection to a PostgreSQL server, from the client side: logged in (trust or SCRAM-SHA-256,
 * nothing weaker — a server asking for a cleartext or MD5 password is refused), its greeting read,
 * then every message it sends handed, framed, to the current `receiver`.
 */
export class BackendConnection {
  /** The server's ParameterStatus values, kept current as it reports changes. */
  readonly parameters: Record<string, string>;
  /** What the server's BackendKeyData said: quote it in a CancelRequest. */
  readonly backendKey: BackendKey;
  readonly #socket: Socket;
  readonly #address: { host: string; port: number };
  #receiver: (message: WireMessage) => void = () => {};
  #chunkReceiver: ((chunk: Buffer, readyAt: number) => void) | undefined;
  #closed = false;
  readonly #closeListeners: ((error?: Error) => void)[] = [];

  private constructor(
    socket: Socket,
    framer: MessageFramer,
    greeting: Greeting,
    address: { host: string; port: number },
  ) {
    this.#socket = socket;
    this.#address = address;
    this.parameters = greeting.parameters;
    this.backendKey = greeting.backendKey;
    socket.on("data", (chunk: Buffer) => {
      try {
        const chunkReceiver = this.#chunkReceiver;
        if (chunkReceiver !== undefined && framer.pendingLength === 0) {
          const readyAt = scanReply(chunk);
          if (readyAt >= 0) {
            chunkReceiver(chunk, readyAt);
            return;
          }
        }
        framer.push(chunk, (message) => {
          if (message.type === B.ParameterStatus) {
            const [name, value] = parameterStatus(message);
            this.parameters[name] = value;
          }
          this.#receiver(message);
        });
      } catch (error) {
        this.#close(error as Error);
      }
    });
    socket.on("error", (error) => this.#close(error));
    socket.on("close", () => this.#close());
  }

  /**
   * Connects and logs in.
   * @throws WireError with the server's fields when it refuses (28P01, 3D000, 53300, …), else a
   *   connection error
   */
  static async connect(options: BackendConnectOptions): Promise<BackendConnection> {
    // TLS reads the TCP socket itself: only a plain connection reads into a buffer of its own.
    const tcp = options.tls ? connect(options.port, options.host) : connectReadingInPlace(options);
    tcp.setNoDelay(true);
    const framer = new MessageFramer();
    let socket: Socket = tcp;
    const timeout = setTimeout(
      () => socket.destroy(new Error(`connecting to ${options.host}:${options.port} timed out`)),
      options.connectTimeoutMs ?? 10_000,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("connect", resolve);
        tcp.once("error", reject);
      });
      if (options.tls) socket = await startTls(tcp, options, options.tls.ca);
      const greeting = await login(socket, framer, options);
      return new BackendConnection(socket, framer, greeting, options);
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  }

  /** Whether the connection is gone: nothing more is delivered. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Who gets the server's messages from now on (ParameterStatus included). */
  set receiver(receiver: (message: WireMessage) => void) {
    this.#receiver = receiver;
  }

  /**
   * Who gets, instead of `receiver`, a chunk the server sent that is whole relayable messages
   * (results, completions, notices) and at most a final ReadyForQuery, which starts at `readyAt`
   * (`chunk.length`: none) — see `scanReply`. Any other chunk still goes to `receiver` message by
   * message. Undefined (the default): every chunk does.
   */
  set chunkReceiver(receiver: ((chunk: Buffer, readyAt: number) => void) | undefined) {
    this.#chunkReceiver = receiver;
  }

  /** Sends whole frontend messages; `false` asks the writer to wait for `onceDrained`. */
  write(bytes: Uint8Array): boolean {
    return this.#socket.write(bytes);
  }

  onceDrained(listener: () => void): void {
    this.#socket.once("drain", listener);
  }

  /** Stops reading the server's messages (the client of a relay reads slower than it sends). */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Called once when the connection ends, with the error that ended it if any. */
  onClose(listener: (error?: Error) => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /**
   * Asks the server to cancel what this connection runs now, on a connection of its own as the
   * protocol wants; resolves once the request is sent (the server never answers it).
   */
  async cancel(): Promise<void> {
    const socket = connect(this.#address.port, this.#address.host);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    await new Promise<void>((resolve) =>
      socket.end(serialize.cancel(this.backendKey.processId, this.backendKey.secretKey), resolve),
    );
    socket.destroy();
  }

  /** Sends Terminate and closes. */
  close(): void {
    if (this.#closed) return;
    this.#socket.end(serialize.end());
    this.#close();
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    for (const listener of this.#closeListeners.splice(0)) listener(error);
  }
}

/** Size of a plain connection's read buffer (what Node reads into per read by default, too). */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * A TCP connection that reads into one buffer of its own, reused for every read (net's
 * `onread`), and hands each read on as a 'data' event with a copy of the bytes — a small copy
 * comes from Buffer's shared pool. Node's default read makes a new ArrayBuffer per read and
 * pushes it through the Readable machinery (a nextTick per read); a relay that reads many small
 * answers pays for both on every one. pause()/resume() still stop and restart reading. What is
 * read when nobody listens for 'data' has nowhere to go (a Readable would have kept it): the
 * connection fails rather than lose it — the login listens from before the startup message to
 * the end of the greeting, the connection from then on, and the server speaks only when asked
 * between the two.
 */
function connectReadingInPlace(address: { host: string; port: number }): Socket {
  const socket: Socket = connect({
    port: address.port,
    host: address.host,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (length, buffer) => {
        if (socket.listenerCount("data") === 0) {
          socket.destroy(new Error("the server sent data while nothing read the connection"));
          return false;
        }
        const bytes = Buffer.allocUnsafe(length);
        (buffer as Buffer).copy(bytes, 0, 0, length);
        socket.emit("data", bytes);
        return true;
      },
    },
  });
  return socket;
}

interface Greeting {
  parameters: Record<string, string>;
  backendKey: BackendKey;
}

/** Reads messages one at a time during the login, keeping what follows for the connection. */
class LoginReader {
  readonly #socket: Socket;
  readonly #framer: MessageFramer;
  readonly #queue: WireMessage[] = [];
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    try {
      this.#framer.push(chunk, (message) => this.#queue.push(message));
    } catch (error) {
      this.#failure = error as Error;
    }
    this.#wake?.();
  };
  readonly #onEnd = (error?: Error) => {
    this.#failure ??= error ?? new Error("server closed the connection during login");
    this.#wake?.();
  };

  constructor(socket: Socket, framer: MessageFramer) {
    this.#socket = socket;
    this.#framer = framer;
    socket.on("data", this.#onData);
    socket.on("error", this.#onEnd);
    socket.on("close", this.#onEnd);
  }

  async next(): Promise<WireMessage> {
    for (;;) {
      const message = this.#queue.shift();
      if (message !== undefined) return message;
      if (this.#failure !== undefined) throw this.#failure;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  /** Stops reading; the greeting ends at ReadyForQuery, and the server says nothing unasked after it. */
  detach(): void {
    this.#socket.off("data", this.#onData);
    this.#socket.off("error", this.#onEnd);
    this.#socket.off("close", this.#onEnd);
  }
}

/** SSLRequest, then — when the server answers `S` — a TLS handshake that checks the certificate. */
async function startTls(tcp: Socket, address: { host: string; port: number }, ca: string): Promise<Socket> {
  const answer = await new Promise<number>((resolve, reject) => {
    const cleanup = () => {
      tcp.off("data", onData);
      tcp.off("error", reject);
      tcp.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      cleanup();
      // A server answers with one byte and waits for the client's TLS hello; more is an attack.
      if (chunk.length !== 1) reject(new Error("unexpected data after the SSLRequest answer"));
      else resolve(chunk[0] ?? 0);
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`${address.host}:${address.port} closed the connection on SSLRequest`));
    };
    tcp.on("data", onData);
    tcp.once("error", reject);
    tcp.once("close", onClose);
    tcp.write(serialize.requestSsl());
  });
  if (answer !== 0x53 /* S */) {
    throw new TlsRefusedError(
      `${address.host}:${address.port} serves no TLS, and a CA is configured (verify-full)`,
    );
  }
  const secure = connectTls({
    socket: tcp,
    ca,
    rejectUnauthorized: true,
    host: address.host,
    // SNI carries host names only.
    ...(isIP(address.host) === 0 && { servername: address.host }),
  });
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", reject);
    secure.once("close", () => reject(new Error(`${address.host}:${address.port} closed the TLS handshake`)));
  });
  secure.setNoDelay(true);
  return secure;
}

async function login(
  socket: Socket,
  framer: MessageFramer,
  options: BackendConnectOptions,
): Promise<Greeting> {
  const reader = new LoginReader(socket, framer);
  try {
    socket.write(
      serialize.startup({ ...options.parameters, user: options.user, database: options.database }),
    );
    const parameters: Record<string, string> = {};
    let backendKey: BackendKey = { processId: 0, secretKey: 0 };
    let scram: ScramClient | undefined;
    for (;;) {
      const message = await reader.next();
      const body = new BodyReader(message.bytes, MESSAGE_BODY_OFFSET);
      switch (message.type) {
        case B.Authentication:
          scram = authenticate(socket, body, message, options, scram);
          break;
        case B.ParameterStatus: {
          const [name, value] = parameterStatus(message);
          parameters[name] = value;
          break;
        }
        case B.BackendKeyData:
          backendKey = { processId: body.int32(), secretKey: body.int32() };
          break;
        case B.ErrorResponse:
          throw new WireError(noticeFields(message));
        case B.ReadyForQuery:
          return { parameters, backendKey };
        default:
          // NoticeResponse, NegotiateProtocolVersion: nothing to act on.
          break;
      }
    }
  } finally {
    reader.detach();
  }
}

function authenticate(
  socket: Socket,
  body: BodyReader,
  message: WireMessage,
  options: BackendConnectOptions,
  scram: ScramClient | undefined,
): ScramClient | undefined {
  const code = body.int32();
  switch (code) {
    case AuthenticationCode.Ok:
      return scram;
    case AuthenticationCode.SASL: {
      const mechanisms: string[] = [];
      for (let name = body.cstring(); name !== ""; name = body.cstring()) mechanisms.push(name);
      if (!mechanisms.includes(SCRAM_SHA_256)) throw refused("the server offers no SCRAM-SHA-256");
      if (options.password === undefined) throw refused("the server asks for a password and none is set");
      const client = new ScramClient(options.password);
      socket.write(serialize.sendSASLInitialResponseMessage(SCRAM_SHA_256, client.clientFirst()));
      return client;
    }
    case AuthenticationCode.SASLContinue: {
      if (scram === undefined) throw refused("SASL continue without a SASL exchange");
      const serverFirst = message.bytes.toString("utf8", MESSAGE_BODY_OFFSET + 4);
      socket.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinal(serverFirst)));
      return scram;
    }
    case AuthenticationCode.SASLFinal:
      if (scram === undefined) throw refused("SASL final without a SASL exchange");
      scram.verifyServerFinal(message.bytes.toString("utf8", MESSAGE_BODY_OFFSET + 4));
      return scram;
    default:
      // Cleartext (3), MD5 (5), GSS, SSPI: weaker than SCRAM or not ours to speak.
      throw refused(
        `the server asks for authentication method ${code}; only SCRAM-SHA-256 and trust are spoken`,
      );
  }
}

function refused(message: string): WireError {
  return new WireError({
    severity: "FATAL",
    code: SqlState.InvalidAuthorizationSpecification,
    message: `cannot log in to the server: ${message}`,
  });
}

function parameterStatus(message: WireMessage): [string, string] {
  const body = new BodyReader(message.bytes, MESSAGE_BODY_OFFSET);
  return [body.cstring(), body.cstring()];
}

const fieldNames: Readonly<Record<string, keyof NoticeFields>> = {
  S: "severity",
  C: "code",
  M: "message",
  D: "detail",
  H: "hint",
  P: "position",
  p: "internalPosition",
  q: "internalQuery",
  W: "where",
  s: "schema",
  t: "table",
  c: "column",
  d: "dataType",
  n: "constraint",
  F: "file",
  L: "line",
  R: "routine",
};

/** The fields of an ErrorResponse or NoticeResponse a server sent. */
export function noticeFields(message: WireMessage): NoticeFields {
  const fields: Record<string, string> = { severity: "ERROR", code: "XX000", message: "" };
  const body = new BodyReader(message.bytes, MESSAGE_BODY_OFFSET);
  while (body.remaining > 0) {
    const code = body.int8();
    if (code === 0) break;
    const value = body.cstring();
    const name = fieldNames[String.fromCharCode(code)];
    if (name !== undefined) fields[name] = value;
  }
  return fields as unknown as NoticeFields;
}
