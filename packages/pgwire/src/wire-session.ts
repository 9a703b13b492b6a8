import type { Duplex } from "node:stream";
import { backendMessage } from "./backend-messages.ts";
import { type BackendKey, fatalFields } from "./handshake.ts";
import { MessageFramer, type WireMessage } from "./message-framer.ts";
import { FrontendMessageType } from "./protocol-codes.ts";
import type { StartupParameters } from "./startup-packet.ts";
import { type NoticeFields, WireError } from "./wire-error.ts";

/** An authenticated client connection, as a session handler sees it. */
export interface WireSession {
  /** The startup packet's parameters (user, database, options, application_name, …). */
  readonly parameters: StartupParameters;
  /** What BackendKeyData told the client; a CancelRequest quotes it back. */
  readonly backendKey: BackendKey;
  /** Whether the connection was upgraded to TLS. */
  readonly encrypted: boolean;
  /** Sends bytes (whole backend messages) to the client; `false` asks the writer to wait for `drain`. */
  write(bytes: Uint8Array): boolean;
  /** Calls `listener` once the client's socket buffer has drained (after `write` returned false). */
  onceDrained(listener: () => void): void;
  /** Stops reading the client's messages (backpressure from the other side of a relay). */
  pause(): void;
  resume(): void;
  /** Ends the connection, after an ErrorResponse when `error` is given. */
  end(error?: NoticeFields): void;
}

/** What a session does with the client's messages. Created by `onSession` once per connection. */
export interface SessionHandler {
  /**
   * ParameterStatus values to announce in the greeting, over the server's defaults (a relay
   * passes on its upstream server's).
   */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * One whole frontend message; Terminate is handled by the server (it calls `close`). An ERROR
   * is the handler's to write; whatever it throws ends the connection as FATAL (a WireError's
   * own fields, else XX000 and `onError`).
   */
  message(message: WireMessage): void;
  /**
   * A chunk just read, starting on a message boundary (it may end anywhere), offered whole before it is
   * framed: true when the handler dealt with all of it (a relay passing a batch on as it is),
   * false to have it delivered message by message as usual.
   */
  chunk?(chunk: Buffer): boolean;
  /** Every message of the chunk just read has been delivered: write out what was batched. */
  flush?(): void;
  /** The connection is gone (Terminate, client closed, error, server closing). Called once. */
  close(): void;
}

/** A session's connection: frames the client's bytes into messages for its handler. */
export class SessionConnection implements WireSession {
  readonly parameters: StartupParameters;
  readonly backendKey: BackendKey;
  readonly encrypted: boolean;
  readonly #stream: Duplex;
  readonly #framer = new MessageFramer();
  readonly #onError: ((error: unknown) => void) | undefined;
  #handler: SessionHandler | undefined;
  #closed = false;

  /** @param onError told of a handler's failure that is not a WireError (the client gets XX000) */
  constructor(
    stream: Duplex,
    parameters: StartupParameters,
    backendKey: BackendKey,
    encrypted: boolean,
    onError: ((error: unknown) => void) | undefined,
  ) {
    this.#stream = stream;
    this.#onError = onError;
    this.parameters = parameters;
    this.backendKey = backendKey;
    this.encrypted = encrypted;
    stream.on("close", () => this.#close());
  }

  /** Whether the connection is gone (or going): nothing more is sent or delivered. */
  get closed(): boolean {
    return this.#closed;
  }

  write(bytes: Uint8Array): boolean {
    return this.#stream.write(bytes);
  }

  onceDrained(listener: () => void): void {
    this.#stream.once("drain", listener);
  }

  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    this.#stream.resume();
  }

  end(error?: NoticeFields): void {
    if (error !== undefined) this.#stream.write(backendMessage.errorResponse(error));
    this.#stream.end();
    this.#close();
  }

  /** Starts delivering messages to `handler`, beginning with bytes read during the handshake. */
  start(handler: SessionHandler, pipelined: Buffer): void {
    this.#handler = handler;
    this.#stream.on("data", (chunk: Buffer) => this.#receive(chunk));
    if (pipelined.length > 0) this.#receive(pipelined);
    this.#stream.resume();
  }

  #receive(chunk: Buffer): void {
    const handler = this.#handler!;
    try {
      if (handler.chunk !== undefined && this.#framer.pendingLength === 0 && handler.chunk(chunk)) return;
      this.#framer.push(chunk, (message) => {
        if (this.#closed) return;
        if (message.type === FrontendMessageType.Terminate) {
          this.end();
          return;
        }
        handler.message(message);
      });
      if (!this.#closed) handler.flush?.();
    } catch (error) {
      if (!(error instanceof WireError)) this.#onError?.(error);
      this.end(fatalFields(error));
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler?.close();
  }
}
