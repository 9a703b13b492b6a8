// The client side of the protocol: a backend connection logs in to the real server (trust) and
// to this package's own server (SCRAM-SHA-256, whose verifier proves the password), relays a
// query, and cancels one that runs.
import { testServerUrls } from "@dbplane/testkit";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BackendConnection,
  BackendMessageType,
  backendMessage,
  createScramVerifier,
  createWireServer,
  noticeFields,
  SqlState,
  type WireMessage,
  type WireServer,
} from "../src/index.ts";

const url = new URL(testServerUrls().postgres);
const server = { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username) };

/** Sends `bytes`, collects the answers up to ReadyForQuery. */
function exchange(connection: BackendConnection, bytes: Buffer): Promise<WireMessage[]> {
  const seen: WireMessage[] = [];
  return new Promise((resolve) => {
    connection.receiver = (message) => {
      seen.push({ type: message.type, bytes: Buffer.from(message.bytes) });
      if (message.type === BackendMessageType.ReadyForQuery) resolve(seen);
    };
    connection.write(bytes);
  });
}

describe("backend connection to PostgreSQL (trust)", () => {
  it("logs in, reports the greeting and BackendKeyData, relays a query's rows", async () => {
    const connection = await BackendConnection.connect({ ...server, database: "postgres" });
    try {
      expect(connection.parameters.server_version).toMatch(/^\d+/);
      expect(connection.backendKey.processId).toBeGreaterThan(0);
      const answers = await exchange(connection, serialize.query("SELECT pg_backend_pid()::text"));
      const row = answers.find((m) => m.type === BackendMessageType.DataRow)!;
      expect(row.bytes.toString("utf8", 11)).toBe(String(connection.backendKey.processId));
    } finally {
      connection.close();
    }
  });

  it("a message's bytes, held without a copy, stay as read while later answers are read (more than a read slab's worth)", async () => {
    const connection = await BackendConnection.connect({ ...server, database: "postgres" });
    try {
      const held: { bytes: Buffer; copy: Buffer }[] = [];
      // 200 answers of ~1 KB: several 64 KB read slabs, each answer read into memory of its own.
      for (let i = 0; i < 200; i++) {
        const row = await new Promise<Buffer>((resolve) => {
          let data: Buffer | undefined;
          connection.receiver = (message) => {
            if (message.type === BackendMessageType.DataRow) data = message.bytes;
            if (message.type === BackendMessageType.ReadyForQuery) resolve(data!);
          };
          connection.write(serialize.query(`SELECT repeat('${String.fromCharCode(97 + (i % 26))}', 1000)`));
        });
        held.push({ bytes: row, copy: Buffer.from(row) });
      }
      for (const { bytes, copy } of held) expect(bytes.equals(copy)).toBe(true);
    } finally {
      connection.close();
    }
  });

  it("cancels the query the connection runs: 57014", async () => {
    const connection = await BackendConnection.connect({ ...server, database: "postgres" });
    try {
      const answered = exchange(connection, serialize.query("SELECT pg_sleep(30)"));
      // The cancel must arrive while the sleep runs: poll pg_stat_activity until it does.
      const watcher = await BackendConnection.connect({ ...server, database: "postgres" });
      for (;;) {
        const rows = await exchange(
          watcher,
          serialize.query(
            `SELECT 1 FROM pg_stat_activity WHERE pid = ${connection.backendKey.processId} AND state = 'active'`,
          ),
        );
        if (rows.some((m) => m.type === BackendMessageType.DataRow)) break;
      }
      watcher.close();
      await connection.cancel();
      const error = (await answered).find((m) => m.type === BackendMessageType.ErrorResponse)!;
      expect(noticeFields(error).code).toBe(SqlState.QueryCanceled);
    } finally {
      connection.close();
    }
  });

  it("refuses an unknown database with the server's 3D000", async () => {
    await expect(
      BackendConnection.connect({ ...server, database: "no_such_db_for_pgwire" }),
    ).rejects.toMatchObject({
      code: SqlState.InvalidCatalogName,
    });
  });
});

describe("backend connection with SCRAM-SHA-256", () => {
  let wire: WireServer;
  let port: number;
  beforeAll(async () => {
    const verifier = createScramVerifier("right-password");
    wire = createWireServer({
      authenticate: () => ({ verifier, databaseExists: true }),
      onSession: (session) => ({
        message() {
          session.write(
            Buffer.concat([backendMessage.commandComplete("SELECT 0"), backendMessage.readyForQuery("I")]),
          );
        },
        close() {},
      }),
      serverParameters: { server_version: "15.0" },
    });
    port = (await wire.listen(0)).port;
  });
  afterAll(() => wire.close());

  it("logs in with the right password and verifies the server's signature", async () => {
    const connection = await BackendConnection.connect({
      host: "127.0.0.1",
      port,
      user: "app",
      database: "db",
      password: "right-password",
    });
    expect(connection.parameters.server_version).toBe("15.0");
    const answers = await exchange(connection, serialize.query("SELECT"));
    expect(answers.map((m) => m.type)).toEqual([
      BackendMessageType.CommandComplete,
      BackendMessageType.ReadyForQuery,
    ]);
    connection.close();
  });

  it("a wrong password is the server's 28P01", async () => {
    await expect(
      BackendConnection.connect({ host: "127.0.0.1", port, user: "app", database: "db", password: "wrong" }),
    ).rejects.toMatchObject({ code: SqlState.InvalidPassword });
  });
});
