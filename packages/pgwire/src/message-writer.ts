/**
 * Builds one typed protocol message: append fields, then `finish()` fills in the length. Grows
 * by doubling, so a DataRow of many columns costs a few copies, not one per field.
 */
export class MessageWriter {
  #buffer: Buffer;
  #offset = 5;

  /** @param type the message's type byte */
  constructor(type: number, sizeHint = 64) {
    this.#buffer = Buffer.allocUnsafe(Math.max(sizeHint, 16));
    this.#buffer[0] = type;
  }

  int8(value: number): this {
    this.#reserve(1);
    this.#buffer[this.#offset++] = value;
    return this;
  }

  int16(value: number): this {
    this.#reserve(2);
    this.#offset = this.#buffer.writeInt16BE(value, this.#offset);
    return this;
  }

  int32(value: number): this {
    this.#reserve(4);
    this.#offset = this.#buffer.writeInt32BE(value, this.#offset);
    return this;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(value: string): this {
    const length = Buffer.byteLength(value);
    this.#reserve(length + 1);
    this.#offset += this.#buffer.write(value, this.#offset, "utf8");
    this.#buffer[this.#offset++] = 0;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#reserve(value.length);
    this.#buffer.set(value, this.#offset);
    this.#offset += value.length;
    return this;
  }

  /** The message, its length field set. */
  finish(): Buffer {
    this.#buffer.writeInt32BE(this.#offset - 1, 1);
    return this.#buffer.subarray(0, this.#offset);
  }

  #reserve(size: number): void {
    if (this.#offset + size <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#offset + size));
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
  }
}
