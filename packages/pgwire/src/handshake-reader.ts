import type { Duplex } from "node:stream";
import { MESSAGE_BODY_OFFSET, type WireMessage } from "./message-framer.ts";
import { MAX_STARTUP_PACKET_LENGTH, startupPacketLength } from "./startup-packet.ts";
import { protocolViolation } from "./wire-error.ts";

/** The client closed the connection before the handshake finished (nothing to answer). */
export class ClientGoneError extends Error {
  constructor() {
    super("client closed the connection during the handshake");
    this.name = "ClientGoneError";
  }
}

/**
 * Reads the handshake's packets one at a time, awaiting each. Only for the few packets before
 * authentication completes; after that the session reads messages through a MessageFramer.
 */
export class HandshakeReader {
  readonly #stream: Duplex;
  #buffered: Buffer = Buffer.alloc(0);
  #gone = false;
  #wake: (() => void) | undefined;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    this.#notify();
  };
  readonly #onGone = (): void => {
    this.#gone = true;
    this.#notify();
  };

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on("data", this.#onData);
    stream.on("end", this.#onGone);
    stream.on("close", this.#onGone);
  }

  /** An untyped packet (startup, SSL, GSS or cancel request), length field included. */
  async untyped(): Promise<Buffer> {
    for (;;) {
      const length = startupPacketLength(this.#buffered);
      if (length !== undefined && this.#buffered.length >= length) return this.#take(length);
      await this.#more();
    }
  }

  /** A typed message of at most `maxLength` bytes (after its type byte). */
  async typed(maxLength: number = MAX_STARTUP_PACKET_LENGTH): Promise<WireMessage> {
    for (;;) {
      if (this.#buffered.length >= MESSAGE_BODY_OFFSET) {
        const length = this.#buffered.readInt32BE(1);
        if (length < 4 || length > maxLength) throw protocolViolation(`invalid message length ${length}`);
        if (this.#buffered.length >= length + 1) {
          const type = this.#buffered[0]!;
          return { type, bytes: this.#take(length + 1) };
        }
      }
      await this.#more();
    }
  }

  /** Stops reading; returns what was received but not yet read (pipelined by the client). */
  detach(): Buffer {
    this.#stream.off("data", this.#onData);
    this.#stream.off("end", this.#onGone);
    this.#stream.off("close", this.#onGone);
    this.#stream.pause();
    return this.#take(this.#buffered.length);
  }

  #take(length: number): Buffer {
    const taken = this.#buffered.subarray(0, length);
    this.#buffered = this.#buffered.subarray(length);
    return taken;
  }

  #more(): Promise<void> {
    if (this.#gone) return Promise.reject(new ClientGoneError());
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
