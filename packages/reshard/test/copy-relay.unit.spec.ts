import type { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { framedCopyOut } from "../src/copy-relay.ts";

function message(code: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, "latin1");
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const rows = ["1\tone\n", "2\ttwo, a longer row\n", "", "3\t\\N\n", "4\tlast\n"].map((r) =>
  message("d", Buffer.from(r)),
);
const wire = Buffer.concat([
  message("H", Buffer.from([0, 0, 2, 0, 0, 0, 0])), // CopyOutResponse
  rows[0]!,
  rows[1]!,
  message("N", Buffer.from("notice\0")), // a notice in the middle of the COPY
  ...rows.slice(2),
  message("c", Buffer.alloc(0)), // CopyDone
  message("C", Buffer.from("COPY 5\0")), // CommandComplete: pg's to read
]);

/** Feeds `chunks` to the relay's parser as the socket would; what it passes on, counts and leaves to pg. */
function feed(chunks: Buffer[]) {
  let counted = 0;
  let left: Buffer | undefined;
  const stream = framedCopyOut("COPY x TO STDOUT", (n) => {
    counted += n;
  }) as Readable & {
    _parse(chunk: Buffer): boolean;
    _detach(): void;
    _buffer: { take(n: number): Buffer; size: number };
  };
  stream._detach = () => {
    left = stream._buffer.take(stream._buffer.size);
  };
  for (const chunk of chunks) {
    // Once detached, pg reads the socket itself.
    if (left === undefined) stream._parse(chunk);
    else left = Buffer.concat([left, chunk]);
  }
  const out: Buffer[] = [];
  for (let c = stream.read() as Buffer | null; c !== null; c = stream.read() as Buffer | null) out.push(c);
  return { relayed: Buffer.concat(out), counted, left };
}

describe("the COPY relay's parser", () => {
  it("passes the CopyData messages on whole, however the wire is cut, counts them, and leaves the rest to pg", () => {
    const expected = Buffer.concat(rows);
    for (let i = 0; i <= wire.length; i++) {
      for (let j = i; j <= wire.length; j += 3) {
        const { relayed, counted, left } = feed([wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]);
        expect(relayed.equals(expected), `cut at ${i} and ${j}`).toBe(true);
        expect(counted).toBe(rows.length);
        expect(left?.toString("latin1")).toBe(message("C", Buffer.from("COPY 5\0")).toString("latin1"));
      }
    }
  });

  it("hands an error response to pg at once, after the rows before it", () => {
    const error = message("E", Buffer.from("SERROR\0\0"));
    const { relayed, counted, left } = feed([Buffer.concat([rows[0]!, error])]);
    expect(relayed.equals(rows[0]!)).toBe(true);
    expect(counted).toBe(1);
    expect(left?.equals(error)).toBe(true);
  });
});
