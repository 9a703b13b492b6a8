// The codec against node-postgres's own (pg-protocol): backend messages serialized here are
// decoded by its parser, frontend messages serialized by it are parsed here, and the framer
// finds the same messages however the bytes are chunked.
import { PassThrough } from "node:stream";
import { parse, serialize } from "pg-protocol";
import { describe, expect, it } from "vitest";
import {
  backendMessage,
  MessageFramer,
  parseBind,
  parseClose,
  parseCopyData,
  parseCopyFail,
  parseDescribe,
  parseExecute,
  parseParse,
  parseQuery,
  parseSaslInitialResponse,
  parseSaslResponse,
  readyForQueryStatus,
  type WireMessage,
} from "../src/index.ts";

/** Decodes backend bytes with pg-protocol, as node-postgres would. */
async function decode(...messages: Buffer[]): Promise<Record<string, unknown>[]> {
  const stream = new PassThrough();
  const decoded: Record<string, unknown>[] = [];
  const done = parse(stream, (message) =>
    decoded.push({ ...message, message: (message as { message?: string }).message }),
  );
  stream.end(Buffer.concat(messages));
  await done;
  return decoded;
}

function frame(bytes: Buffer): WireMessage {
  const messages: WireMessage[] = [];
  new MessageFramer().push(bytes, (message) => messages.push(message));
  expect(messages).toHaveLength(1);
  return messages[0]!;
}

describe("backend messages", () => {
  it("decode as node-postgres expects: rows, tags, status", async () => {
    const decoded = await decode(
      backendMessage.rowDescription([
        { name: "id", typeOid: 23, typeSize: 4, tableOid: 16384, columnNumber: 1 },
        { name: "name", typeOid: 25 },
      ]),
      backendMessage.dataRow(["1", null]),
      backendMessage.dataRow([Buffer.from([0, 0, 0, 2]), "é"]),
      backendMessage.commandComplete("SELECT 2"),
      backendMessage.readyForQuery("T"),
    );
    expect(decoded[0]).toMatchObject({
      name: "rowDescription",
      fields: [
        {
          name: "id",
          tableID: 16384,
          columnID: 1,
          dataTypeID: 23,
          dataTypeSize: 4,
          dataTypeModifier: -1,
          format: "text",
        },
        {
          name: "name",
          tableID: 0,
          columnID: 0,
          dataTypeID: 25,
          dataTypeSize: -1,
          dataTypeModifier: -1,
          format: "text",
        },
      ],
    });
    expect(decoded[1]).toMatchObject({ name: "dataRow", fields: ["1", null] });
    expect(decoded[2]).toMatchObject({ name: "dataRow", fields: ["\u0000\u0000\u0000\u0002", "é"] });
    expect(decoded[3]).toMatchObject({ name: "commandComplete", text: "SELECT 2" });
    expect(decoded[4]).toMatchObject({ name: "readyForQuery", status: "T" });
  });

  it("carry every error and notice field", async () => {
    const fields = {
      code: "23505",
      message: "duplicate key value violates unique constraint",
      detail: "Key (id)=(3) already exists.",
      hint: "a hint",
      position: "12",
      where: "somewhere",
      schema: "public",
      table: "items",
      column: "id",
      dataType: "integer",
      constraint: "items_pkey",
      file: "nbtinsert.c",
      line: "666",
      routine: "_bt_check_unique",
    };
    const [error, notice] = await decode(
      backendMessage.errorResponse({ severity: "ERROR", ...fields }),
      backendMessage.noticeResponse({ severity: "NOTICE", code: "00000", message: "just so you know" }),
    );
    expect(error).toMatchObject({ name: "error", severity: "ERROR", ...fields });
    expect(notice).toMatchObject({
      name: "notice",
      severity: "NOTICE",
      code: "00000",
      message: "just so you know",
    });
  });

  it("cover the extended protocol, COPY and startup", async () => {
    const decoded = await decode(
      backendMessage.parseComplete(),
      backendMessage.bindComplete(),
      backendMessage.parameterDescription([23, 25]),
      backendMessage.noData(),
      backendMessage.portalSuspended(),
      backendMessage.emptyQueryResponse(),
      backendMessage.closeComplete(),
      backendMessage.copyInResponse({ format: 0, columnFormats: [0, 0] }),
      backendMessage.copyOutResponse({ format: 1, columnFormats: [1] }),
      backendMessage.copyData(Buffer.from("1\tone\n")),
      backendMessage.copyDone(),
      backendMessage.authenticationSasl(["SCRAM-SHA-256"]),
      backendMessage.authenticationSaslContinue("r=abc,s=c2FsdA==,i=4096"),
      backendMessage.authenticationSaslFinal("v=c2lnbmF0dXJl"),
      backendMessage.authenticationOk(),
      backendMessage.parameterStatus("server_encoding", "UTF8"),
      backendMessage.backendKeyData(4242, -17),
    );
    expect(decoded.map((message) => message.name)).toEqual([
      "parseComplete",
      "bindComplete",
      "parameterDescription",
      "noData",
      "portalSuspended",
      "emptyQuery",
      "closeComplete",
      "copyInResponse",
      "copyOutResponse",
      "copyData",
      "copyDone",
      "authenticationSASL",
      "authenticationSASLContinue",
      "authenticationSASLFinal",
      "authenticationOk",
      "parameterStatus",
      "backendKeyData",
    ]);
    expect(decoded[2]).toMatchObject({ dataTypeIDs: [23, 25] });
    expect(decoded[7]).toMatchObject({ binary: false, columnTypes: [0, 0] });
    expect(decoded[8]).toMatchObject({ binary: true, columnTypes: [1] });
    expect((decoded[9]!.chunk as Buffer).toString()).toBe("1\tone\n");
    expect(decoded[11]).toMatchObject({ mechanisms: ["SCRAM-SHA-256"] });
    expect(decoded[12]).toMatchObject({ data: "r=abc,s=c2FsdA==,i=4096" });
    expect(decoded[13]).toMatchObject({ data: "v=c2lnbmF0dXJl" });
    expect(decoded[15]).toMatchObject({ parameterName: "server_encoding", parameterValue: "UTF8" });
    expect(decoded[16]).toMatchObject({ processID: 4242, secretKey: -17 });
  });

  it("readyForQueryStatus reads the transaction status a relay passes on", () => {
    for (const status of ["I", "T", "E"] as const) {
      expect(readyForQueryStatus(frame(backendMessage.readyForQuery(status)))).toBe(status);
    }
    expect(() => readyForQueryStatus(frame(backendMessage.noData()))).toThrow(/ReadyForQuery/);
  });
});

describe("frontend messages", () => {
  it("parse what node-postgres sends for a prepared statement's round trip", () => {
    expect(parseParse(frame(serialize.parse({ name: "s1", text: "SELECT $1, $2", types: [23, 0] })))).toEqual(
      {
        statement: "s1",
        sql: "SELECT $1, $2",
        parameterTypes: [23, 0],
      },
    );
    const bind = parseBind(
      frame(serialize.bind({ portal: "p1", statement: "s1", values: ["42", null, Buffer.from([1, 2])] })),
    );
    expect(bind).toMatchObject({
      portal: "p1",
      statement: "s1",
      parameterFormats: [0, 0, 1],
      resultFormats: [0],
    });
    expect(bind.parameters.map((value) => value && [...value])).toEqual([[0x34, 0x32], null, [1, 2]]);
    expect(parseDescribe(frame(serialize.describe({ type: "P", name: "p1" })))).toEqual({
      target: "P",
      name: "p1",
    });
    expect(parseExecute(frame(serialize.execute({ portal: "p1", rows: 100 })))).toEqual({
      portal: "p1",
      maxRows: 100,
    });
    expect(parseClose(frame(serialize.close({ type: "S", name: "s1" })))).toEqual({
      target: "S",
      name: "s1",
    });
    expect(parseQuery(frame(serialize.query("SELECT 'é'; SELECT 2")))).toEqual({
      sql: "SELECT 'é'; SELECT 2",
    });
  });

  it("parse COPY and SASL messages", () => {
    expect(parseCopyData(frame(serialize.copyData(Buffer.from("1\tone\n")))).toString()).toBe("1\tone\n");
    expect(parseCopyFail(frame(serialize.copyFail("client gave up")))).toBe("client gave up");
    const initial = parseSaslInitialResponse(
      frame(serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256", "n,,n=*,r=abc")),
    );
    expect({ ...initial, data: initial.data?.toString() }).toEqual({
      mechanism: "SCRAM-SHA-256",
      data: "n,,n=*,r=abc",
    });
    expect(
      parseSaslResponse(frame(serialize.sendSCRAMClientFinalMessage("c=biws,r=abc,p=xyz"))).toString(),
    ).toBe("c=biws,r=abc,p=xyz");
  });

  it("refuse a message of the wrong type or cut short with 08P01", () => {
    expect(() => parseQuery(frame(serialize.sync()))).toThrow(expect.objectContaining({ code: "08P01" }));
    const truncated = Buffer.from([0x45, 0, 0, 0, 5, 0x70]); // Execute: a portal name without its NUL
    expect(() => parseExecute(frame(truncated))).toThrow(expect.objectContaining({ code: "08P01" }));
  });
});

describe("MessageFramer", () => {
  const stream = Buffer.concat([
    serialize.parse({ name: "", text: "SELECT 1" }),
    serialize.bind({}),
    serialize.describe({ type: "P" }),
    serialize.execute({}),
    serialize.sync(),
    serialize.query("x".repeat(5000)),
  ]);

  it("finds the same messages whether the bytes come whole, one by one, or in odd chunks", () => {
    const whole: WireMessage[] = [];
    new MessageFramer().push(stream, (message) => whole.push(message));
    expect(whole.map((message) => String.fromCharCode(message.type)).join("")).toBe("PBDESQ");
    expect(Buffer.concat(whole.map((message) => message.bytes))).toEqual(stream);
    for (const size of [1, 3, 7, 4096]) {
      const framer = new MessageFramer();
      const chunked: Buffer[] = [];
      for (let offset = 0; offset < stream.length; offset += size) {
        framer.push(stream.subarray(offset, offset + size), (message) =>
          chunked.push(Buffer.from(message.bytes)),
        );
      }
      expect(chunked).toEqual(whole.map((message) => message.bytes));
      expect(framer.pendingLength).toBe(0);
    }
  });

  it("refuses a length below 4 or above its limit with 08P01", () => {
    expect(() => new MessageFramer().push(Buffer.from([0x51, 0, 0, 0, 3]), () => {})).toThrow(
      expect.objectContaining({ code: "08P01" }),
    );
    expect(() => new MessageFramer(1000).push(serialize.query("x".repeat(2000)), () => {})).toThrow(
      expect.objectContaining({ code: "08P01" }),
    );
  });
});
