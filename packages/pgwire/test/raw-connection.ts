import { once } from "node:events";
import { connect, type Socket } from "node:net";
import type { WireMessage } from "../src/index.ts";

/**
 * A client speaking raw protocol bytes, for what real clients never send: awaits the server's
 * single-byte SSL/GSS answers and typed messages one at a time.
 */
export class RawConnection {
  readonly socket: Socket;
  #buffered = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      this.#notify();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#notify();
    });
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    return new RawConnection(socket);
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The one-byte answer to an SSLRequest or GSSENCRequest. */
  async answerByte(): Promise<string> {
    await this.#until(() => this.#buffered.length >= 1);
    const answer = String.fromCharCode(this.#buffered[0]!);
    this.#buffered = this.#buffered.subarray(1);
    return answer;
  }

  /** The next typed message from the server. */
  async message(): Promise<WireMessage> {
    const whole = () =>
      this.#buffered.length >= 5 && this.#buffered.length >= 1 + this.#buffered.readInt32BE(1);
    await this.#until(whole);
    const length = 1 + this.#buffered.readInt32BE(1);
    const bytes = this.#buffered.subarray(0, length);
    this.#buffered = this.#buffered.subarray(length);
    return { type: bytes[0]!, bytes };
  }

  /** Resolves once the server has closed the connection. */
  async closed(): Promise<void> {
    await this.#until(() => this.#closed);
  }

  async #until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.#closed) {
        if (ready()) return;
        throw new ConnectionClosedError();
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** The server closed the connection while the test was waiting for more. */
export class ConnectionClosedError extends Error {
  constructor() {
    super("connection closed by the server");
    this.name = "ConnectionClosedError";
  }
}
