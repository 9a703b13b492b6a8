import type { Readable, Writable } from "node:stream";
import pgCopy from "pg-copy-streams";

// The relay between the two COPYs passes the source's CopyData messages to the target as they
// came off the wire, headers and all: COPY FROM STDIN takes the very same messages. pg-copy-streams'
// own streams unwrap every row's message on the way out and wrap the bytes again on the way in,
// about a microsecond per row in this process — the slowest part of the copy when the router
// shares a busy machine (pnpm bench reshard: the target's backends waited for data while the
// source's waited to send). These subclasses of pg-copy-streams 7.0.0 (pinned) replace only its
// message parsing (`_parse`) and framing (`flushChunk`); connection handling, errors, back-pressure
// and the end of the COPY stay the library's.

const CopyToStream = pgCopy.to("").constructor as new (text: string) => Readable;
const CopyFromStream = pgCopy.from("").constructor as new (text: string) => Writable;

const COPY_DATA = 0x64; // 'd'
const ERROR_RESPONSE = 0x45; // 'E'
/** Messages PostgreSQL may send in the middle of a COPY OUT; any other ends it (CopyDone 'c'). */
const INTERSPERSED = new Set([
  0x48 /* CopyOutResponse */, 0x53 /* ParameterStatus */, 0x4e /* Notice */, 0x41 /* Notification */,
]);
const HEADER = 5;

interface CopyToInternals {
  _buffer: { push(data: Buffer): void };
  _detach(): void;
  _cleanup(): void;
}

/**
 * `COPY … TO STDOUT` whose chunks are the CopyData messages as sent (header included), counted
 * as they pass (one message is one row).
 */
class FramedCopyOut extends CopyToStream {
  readonly #onRows: (n: number) => void;
  /** Bytes of the current message not yet seen; 0 between messages. */
  #left = 0;
  #isData = false;
  /** A message header cut by the end of a chunk. */
  #carry: Buffer | undefined;

  constructor(text: string, onRows: (n: number) => void) {
    super(text);
    this.#onRows = onRows;
  }

  _parse(chunk: Buffer): boolean {
    const self = this as unknown as CopyToInternals;
    const buf = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = undefined;
    let pos = 0;
    let start = -1;
    let rows = 0;
    let drained = true;
    // A chunk that goes on with a row's message: its first bytes are that row's.
    if (this.#left > 0 && this.#isData) start = 0;
    const flush = () => {
      if (start >= 0 && pos > start) drained = this.push(buf.subarray(start, pos)) && drained;
      start = -1;
    };
    while (pos < buf.length) {
      if (this.#left === 0) {
        const code = buf[pos]!;
        if (code === ERROR_RESPONSE) {
          // pg parses the error (and what follows) and fails the query.
          flush();
          this.#onRows(rows);
          self._buffer.push(buf.subarray(pos));
          self._detach();
          return drained;
        }
        if (buf.length - pos < HEADER) {
          this.#carry = buf.subarray(pos);
          break;
        }
        this.#left = 1 + buf.readUInt32BE(pos + 1);
        this.#isData = code === COPY_DATA;
        if (this.#isData) {
          rows++;
          if (start < 0) start = pos;
        } else {
          flush();
          if (!INTERSPERSED.has(code)) {
            // CopyDone: the rest (CommandComplete, ReadyForQuery) is pg's to read.
            pos += this.#left;
            this.#left = 0;
            this.#onRows(rows);
            self._buffer.push(buf.subarray(Math.min(pos, buf.length)));
            self._detach();
            this.push(null);
            self._cleanup();
            return drained;
          }
        }
      }
      const n = Math.min(this.#left, buf.length - pos);
      pos += n;
      this.#left -= n;
    }
    if (this.#isData) flush();
    else start = -1;
    this.#onRows(rows);
    return drained;
  }
}

/** `COPY … FROM STDIN` that writes its chunks as they are: whole CopyData messages from {@link FramedCopyOut}. */
class FramedCopyIn extends CopyFromStream {
  flushChunk(chunk: Buffer): boolean {
    const connection = (this as unknown as { connection: { stream: Writable } }).connection;
    return connection.stream.write(chunk);
  }
}

/** The source's side of a relay: submit with `client.query(…)`. */
export function framedCopyOut(text: string, onRows: (n: number) => void): Readable {
  return new FramedCopyOut(text, onRows);
}

/** The target's side of a relay: submit with `client.query(…)`, pipe a {@link framedCopyOut} into it. */
export function framedCopyIn(text: string): Writable {
  return new FramedCopyIn(text);
}
