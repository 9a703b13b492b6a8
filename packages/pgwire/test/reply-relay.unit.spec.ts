// What a relay may pass on whole (scanReply) and how a batch of writes becomes one buffer
// (joinWrite): the router's fast path relays a shard's answer chunk as it was read.
import { describe, expect, it } from "vitest";
import { backendMessage, joinWrite, scanReply, TransactionStatus } from "../src/index.ts";

const answer = [
  backendMessage.bindComplete(),
  backendMessage.commandComplete("SELECT 1"),
  backendMessage.emptyQueryResponse(),
  backendMessage.noData(),
];
const ready = backendMessage.readyForQuery(TransactionStatus.Idle);

describe("scanReply", () => {
  it("finds the ReadyForQuery that ends a chunk of whole relayable messages", () => {
    const body = Buffer.concat(answer);
    expect(scanReply(Buffer.concat([body, ready]))).toBe(body.length);
    expect(scanReply(ready)).toBe(0);
  });

  it("answers the chunk's length for whole relayable messages without a ReadyForQuery", () => {
    const body = Buffer.concat(answer);
    expect(scanReply(body)).toBe(body.length);
  });

  it("refuses a chunk the relay must read message by message", () => {
    const body = Buffer.concat(answer);
    const error = backendMessage.errorResponse({ severity: "ERROR", code: "42601", message: "no" });
    const cases = {
      "an error": Buffer.concat([body, error, ready]),
      "a ParseComplete": Buffer.concat([backendMessage.parseComplete(), body, ready]),
      "a ParameterStatus": Buffer.concat([body, backendMessage.parameterStatus("TimeZone", "UTC"), ready]),
      "a message cut short": Buffer.concat([body, ready]).subarray(0, body.length + 3),
      "a message's header cut short": Buffer.concat([body, ready]).subarray(0, body.length + 4),
      "a ReadyForQuery not last": Buffer.concat([ready, body]),
      "a ReadyForQuery with an unknown status": Buffer.from([0x5a, 0, 0, 0, 5, 0x58]),
      "a length below 4": Buffer.from([0x43, 0, 0, 0, 3]),
    };
    for (const [what, chunk] of Object.entries(cases)) expect(scanReply(chunk), what).toBe(-1);
  });
});

describe("joinWrite", () => {
  it("joins adjacent views of one buffer into one view, without copying", () => {
    const chunk = Buffer.concat([...answer, ready]);
    const cut = answer[0]!.length;
    const joined = joinWrite([chunk.subarray(0, cut), chunk.subarray(cut, 20), chunk.subarray(20)]);
    expect(Buffer.compare(joined, chunk)).toBe(0);
    expect(joined.buffer).toBe(chunk.buffer);
    expect(joined.byteOffset).toBe(chunk.byteOffset);
  });

  it("copies pieces that are not adjacent, in order", () => {
    const chunk = Buffer.concat(answer);
    const pieces = [chunk.subarray(5, 10), chunk.subarray(0, 5), Buffer.from("x")];
    expect(Buffer.from(joinWrite(pieces)).toString("hex")).toBe(Buffer.concat(pieces).toString("hex"));
  });
});
