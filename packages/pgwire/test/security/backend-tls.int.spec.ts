// Issue 16, item 8: the router's wire pools reach shards through BackendConnection; with a CA it
// is verify-full — TLS required, the certificate issued by that CA for the host connected to.
import {
  createPostgresServer,
  makeTestCa,
  type PostgresServer,
  type TestCa,
  testServerUrls,
} from "@dbplane/testkit";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendConnection, BackendMessageType, TlsRefusedError, type WireMessage } from "../../src/index.ts";

let trusted: TestCa;
let other: TestCa;
let server: PostgresServer;
let strange: PostgresServer;

beforeAll(async () => {
  [trusted, other] = await Promise.all([makeTestCa(), makeTestCa()]);
  [server, strange] = await Promise.all([
    createPostgresServer({ walLevel: "replica", tls: await trusted.issue("server") }),
    createPostgresServer({ walLevel: "replica", tls: await other.issue("strange") }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.stop(), strange?.stop()]);
  await Promise.all([trusted?.remove(), other?.remove()]);
});

const login = (port: number, ca: string) =>
  BackendConnection.connect({ host: "127.0.0.1", port, user: "postgres", database: "postgres", tls: { ca } });

/** The first column of the first row of `sql`. */
function scalar(connection: BackendConnection, sql: string): Promise<string> {
  const seen: WireMessage[] = [];
  return new Promise((resolve) => {
    connection.receiver = (message) => {
      seen.push({ type: message.type, bytes: Buffer.from(message.bytes) });
      if (message.type !== BackendMessageType.ReadyForQuery) return;
      const row = seen.find((m) => m.type === BackendMessageType.DataRow);
      resolve(row ? row.bytes.toString("utf8", 11) : "");
    };
    connection.write(serialize.query(sql));
  });
}

describe("backend connection with a CA (verify-full)", () => {
  it("logs in over TLS to a server whose certificate the CA issued: pg_stat_ssl says so", async () => {
    const connection = await login(server.port, trusted.cert);
    try {
      expect(await scalar(connection, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).toBe(
        "true",
      );
    } finally {
      connection.close();
    }
  });

  it("refuses a server whose certificate another CA issued", async () => {
    await expect(login(strange.port, trusted.cert)).rejects.toThrow(
      /self.signed|unable to verify|certificate/i,
    );
  });

  it("refuses a server that serves no TLS instead of falling back to plain text", async () => {
    const plain = new URL(testServerUrls().postgres);
    await expect(login(Number(plain.port || 5432), trusted.cert)).rejects.toThrow(TlsRefusedError);
  });
});
