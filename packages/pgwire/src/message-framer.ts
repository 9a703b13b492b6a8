import { protocolViolation } from "./wire-error.ts";

/** One complete protocol message: its type byte and its bytes, header included. */
export interface WireMessage {
  /** The type byte (see `FrontendMessageType`, `BackendMessageType`). */
  readonly type: number;
  /** The whole message — type byte, int32 length, body — ready to relay unchanged. */
  readonly bytes: Buffer;
}

/** PostgreSQL's own limit for a message (PQ_LARGE_MESSAGE_LIMIT): 1 GB - 1. */
export const MAX_MESSAGE_LENGTH = 0x3fffffff;

/** The byte offset where a message's body starts: type byte plus int32 length. */
export const MESSAGE_BODY_OFFSET = 5;

/**
 * Cuts a byte stream of typed messages (either direction) into whole messages. A message split
 * across chunks is kept until the rest arrives; whole messages are handed out as views on the
 * chunk, without copying, so a relay can forward them as they are.
 */
export class MessageFramer {
  readonly #maxLength: number;
  #pending: Buffer | undefined;

  /** @param maxLength the largest message length accepted; a longer one is a protocol violation */
  constructor(maxLength: number = MAX_MESSAGE_LENGTH) {
    this.#maxLength = maxLength;
  }

  /**
   * Hands every message completed by `chunk` to `onMessage`, in order.
   * @throws WireError (08P01) when a length field is below 4 or above the limit
   */
  push(chunk: Buffer, onMessage: (message: WireMessage) => void): void {
    const bytes = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    let offset = 0;
    while (bytes.length - offset >= MESSAGE_BODY_OFFSET) {
      const length = bytes.readInt32BE(offset + 1);
      if (length < 4 || length > this.#maxLength) {
        throw protocolViolation(`invalid message length ${length}`);
      }
      const end = offset + 1 + length;
      if (end > bytes.length) break;
      onMessage({ type: bytes[offset]!, bytes: bytes.subarray(offset, end) });
      offset = end;
    }
    if (offset < bytes.length) this.#pending = Buffer.from(bytes.subarray(offset));
  }

  /** The bytes of an incomplete message held back so far (0 when the stream is at a boundary). */
  get pendingLength(): number {
    return this.#pending?.length ?? 0;
  }
}
