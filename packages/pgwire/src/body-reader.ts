import { protocolViolation } from "./wire-error.ts";

/**
 * Reads the fields of one message body in order. Reading past the end, or a string without
 * its NUL, is the client's protocol violation (08P01), not our crash.
 */
export class BodyReader {
  readonly #bytes: Buffer;
  #offset: number;

  constructor(bytes: Buffer, offset = 0) {
    this.#bytes = bytes;
    this.#offset = offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  int8(): number {
    this.#need(1);
    return this.#bytes[this.#offset++]!;
  }

  int16(): number {
    this.#need(2);
    const value = this.#bytes.readInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  int32(): number {
    this.#need(4);
    const value = this.#bytes.readInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  cstring(): string {
    // The unnamed portal or statement: most Binds, Describes and Executes name it.
    if (this.#bytes[this.#offset] === 0) {
      this.#offset++;
      return "";
    }
    const end = this.#bytes.indexOf(0, this.#offset);
    if (end < 0) throw protocolViolation("invalid string in message");
    const value = this.#bytes.toString("utf8", this.#offset, end);
    this.#offset = end + 1;
    return value;
  }

  /** `length` bytes as a view on the message (copy it to keep it past the message). */
  bytes(length: number): Buffer {
    this.#need(length);
    const value = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** An int16 count followed by that many int16 or int32 values. */
  int16List(): number[] {
    const values: number[] = [];
    for (let count = this.#count(); count > 0; count--) values.push(this.int16());
    return values;
  }

  int32List(): number[] {
    const values: number[] = [];
    for (let count = this.#count(); count > 0; count--) values.push(this.int32());
    return values;
  }

  #count(): number {
    const count = this.int16();
    if (count < 0) throw protocolViolation("invalid count in message");
    return count;
  }

  #need(length: number): void {
    if (length < 0 || this.#offset + length > this.#bytes.length) {
      throw protocolViolation("invalid message format");
    }
  }
}
