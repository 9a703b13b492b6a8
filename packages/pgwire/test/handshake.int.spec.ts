// The handshake's refusals, driven with raw bytes where real clients would never send them
// (cleartext passwords, other protocol versions, data smuggled behind an SSLRequest), and a
// session served by this package's own serializers to node-postgres.

import { makeSelfSignedCert, type SelfSignedCert } from "@dbplane/testkit";
import pg from "pg";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BackendMessageType,
  backendMessage,
  createScramVerifier,
  createWireServer,
  FrontendMessageType,
  parseQuery,
  type SessionHandler,
  SqlState,
  StartupCode,
  WireError,
  type WireMessage,
  type WireServer,
  type WireSession,
} from "../src/index.ts";
import { RawConnection } from "./raw-connection.ts";

const verifier = createScramVerifier("secret");
let cert: SelfSignedCert;

/** A session answering each Query with a notice and one row holding the query text. */
function echoSession(session: WireSession): SessionHandler {
  return {
    message(message) {
      if (message.type !== FrontendMessageType.Query) {
        session.write(
          backendMessage.errorResponse({ severity: "ERROR", code: "0A000", message: "simple only" }),
        );
        return;
      }
      const { sql } = parseQuery(message);
      const answer =
        sql === "fail"
          ? [
              backendMessage.errorResponse({
                severity: "ERROR",
                code: "42601",
                message: "syntax error",
                position: "1",
              }),
            ]
          : [
              backendMessage.noticeResponse({ severity: "NOTICE", code: "01000", message: "echoing" }),
              backendMessage.rowDescription([{ name: "sql", typeOid: 25 }]),
              backendMessage.dataRow([sql]),
              backendMessage.commandComplete("SELECT 1"),
            ];
      session.write(Buffer.concat([...answer, backendMessage.readyForQuery("I")]));
    },
    close() {},
  };
}

async function startServer(overrides: { tls?: boolean; onSession?: typeof echoSession } = {}): Promise<{
  server: WireServer;
  port: number;
}> {
  const server = createWireServer({
    authenticate: ({ user, database }) => ({
      verifier: user === "app" ? verifier : undefined,
      databaseExists: database === "db",
    }),
    onSession: overrides.onSession ?? echoSession,
    tls: overrides.tls ? { cert: cert.cert, key: cert.key } : undefined,
    serverParameters: { server_version: "15.0" },
  });
  const { port } = await server.listen(0);
  return { server, port };
}

function noticeFieldsOf(message: WireMessage): Record<string, string> {
  expect(String.fromCharCode(message.type)).toBe("E");
  const fields: Record<string, string> = {};
  for (const field of message.bytes.toString("utf8", 5, message.bytes.length - 1).split("\0")) {
    if (field !== "") fields[field[0]!] = field.slice(1);
  }
  return fields;
}

function startupPacket(code: number, parameters: Record<string, string>): Buffer {
  const body = Buffer.from(`${Object.entries(parameters).flat().join("\0")}\0\0`);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(code, 4);
  return Buffer.concat([header, body]);
}

/** An SSLRequest, GSSENCRequest or other eight-byte request. */
function request(code: number): Buffer {
  const packet = Buffer.alloc(8);
  packet.writeInt32BE(8, 0);
  packet.writeInt32BE(code, 4);
  return packet;
}

let plain: { server: WireServer; port: number };
let secured: { server: WireServer; port: number };

beforeAll(async () => {
  cert = await makeSelfSignedCert();
  plain = await startServer();
  secured = await startServer({ tls: true });
});

afterAll(async () => {
  await plain?.server.close();
  await secured?.server.close();
  await cert?.remove();
});

describe("authentication", () => {
  it("offers SCRAM-SHA-256 alone, and a cleartext password in answer is a protocol violation", async () => {
    const client = await RawConnection.open(plain.port);
    client.send(serialize.startup({ user: "app", database: "db" }));
    const offer = await client.message();
    expect(offer.type).toBe(BackendMessageType.Authentication);
    expect(offer.bytes.readInt32BE(5)).toBe(10);
    expect(offer.bytes.subarray(9).toString()).toBe("SCRAM-SHA-256\0\0");
    client.send(serialize.password("secret"));
    expect(noticeFieldsOf(await client.message())).toMatchObject({
      S: "FATAL",
      C: SqlState.ProtocolViolation,
    });
    await client.closed();
  });

  it("refuses a mechanism it did not offer", async () => {
    const client = await RawConnection.open(plain.port);
    client.send(serialize.startup({ user: "app", database: "db" }));
    await client.message();
    client.send(
      serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"),
    );
    expect(noticeFieldsOf(await client.message())).toMatchObject({
      C: "08P01",
      M: "client selected an invalid SASL authentication mechanism",
    });
    await client.closed();
  });

  it("refuses a startup packet without a user with 28000", async () => {
    const client = await RawConnection.open(plain.port);
    client.send(startupPacket(StartupCode.ProtocolVersion3, { database: "db" }));
    expect(noticeFieldsOf(await client.message())).toMatchObject({ S: "FATAL", C: "28000" });
    await client.closed();
  });
});

describe("protocol versions", () => {
  it("refuses 2.0 with 0A000", async () => {
    const client = await RawConnection.open(plain.port);
    client.send(startupPacket(0x20000, { user: "app" }));
    expect(noticeFieldsOf(await client.message())).toMatchObject({
      S: "FATAL",
      C: "0A000",
      M: "unsupported frontend protocol 2.0: server supports 3.0 to 3.0",
    });
    await client.closed();
  });

  it("answers 3.2 and _pq_ options with NegotiateProtocolVersion, then authenticates as 3.0", async () => {
    const client = await RawConnection.open(plain.port);
    client.send(startupPacket(0x30002, { user: "app", database: "db", "_pq_.future": "on" }));
    const negotiation = await client.message();
    expect(String.fromCharCode(negotiation.type)).toBe("v");
    expect(negotiation.bytes.readInt32BE(5)).toBe(0);
    expect(negotiation.bytes.readInt32BE(9)).toBe(1);
    expect(negotiation.bytes.subarray(13).toString()).toBe("_pq_.future\0");
    expect((await client.message()).type).toBe(BackendMessageType.Authentication);
    client.socket.destroy();
  });
});

describe("SSL and GSS requests", () => {
  it("answers N to GSSENCRequest and, without a certificate, to SSLRequest; the startup then goes on", async () => {
    const client = await RawConnection.open(plain.port);
    client.send(request(StartupCode.GSSENCRequest));
    expect(await client.answerByte()).toBe("N");
    client.send(request(StartupCode.SSLRequest));
    expect(await client.answerByte()).toBe("N");
    client.send(serialize.startup({ user: "app", database: "db" }));
    expect((await client.message()).type).toBe(BackendMessageType.Authentication);
    client.socket.destroy();
  });

  it("refuses bytes sent behind an SSLRequest before the answer (CVE-2021-23214)", async () => {
    const client = await RawConnection.open(secured.port);
    client.send(
      Buffer.concat([request(StartupCode.SSLRequest), serialize.startup({ user: "app", database: "db" })]),
    );
    expect(noticeFieldsOf(await client.message())).toMatchObject({
      C: "08P01",
      M: "received unencrypted data after SSL request",
    });
    await client.closed();
  });
});

describe("a session on this package's serializers", () => {
  it("gives node-postgres rows, notices and errors, and the connection stays usable", async () => {
    const client = new pg.Client({
      port: plain.port,
      host: "127.0.0.1",
      user: "app",
      password: "secret",
      database: "db",
    });
    const notices: unknown[] = [];
    client.on("notice", (notice) => notices.push(notice));
    await client.connect();
    try {
      expect((await client.query("hello")).rows).toEqual([{ sql: "hello" }]);
      await expect(client.query("fail")).rejects.toMatchObject({ code: "42601", position: "1" });
      expect((await client.query("again")).rows).toEqual([{ sql: "again" }]);
      expect(notices).toContainEqual(expect.objectContaining({ code: "01000", message: "echoing" }));
    } finally {
      await client.end();
    }
  });

  it("answers onSession's refusal as FATAL, and ends open sessions with 57P01 when closing", async () => {
    const crowded = await startServer({
      onSession: () => {
        throw new WireError({ severity: "FATAL", code: SqlState.TooManyConnections, message: "too many" });
      },
    });
    const refused = new pg.Client({
      port: crowded.port,
      host: "127.0.0.1",
      user: "app",
      password: "secret",
      database: "db",
    });
    await expect(refused.connect()).rejects.toMatchObject({ code: "53300" });
    await crowded.server.close();

    const closing = await startServer();
    const client = new pg.Client({
      port: closing.port,
      host: "127.0.0.1",
      user: "app",
      password: "secret",
      database: "db",
    });
    await client.connect();
    // node-postgres reports the FATAL, then the connection's end: both are expected here.
    const errors: unknown[] = [];
    client.on("error", (error) => errors.push(error));
    const ended = new Promise<void>((resolve) => client.on("end", () => resolve()));
    await closing.server.close();
    await ended;
    expect(errors[0]).toMatchObject({ code: "57P01" });
  });
});
