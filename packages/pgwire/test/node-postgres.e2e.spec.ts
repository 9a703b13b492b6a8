// node-postgres through the wire server and a passthrough session to the real PostgreSQL:
// SCRAM login (plain and TLS), simple and extended queries, named prepared statements, a
// transaction, errors whose SQLSTATE passes through, and the refusals of the handshake.
import { once } from "node:events";
import { connect } from "node:net";
import pg from "pg";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PassthroughFixture, startPassthroughFixture } from "./passthrough-fixture.ts";

let fixture: PassthroughFixture;

beforeAll(async () => {
  fixture = await startPassthroughFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

function client(overrides: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({
    host: "127.0.0.1",
    port: fixture.port,
    user: fixture.user,
    password: fixture.password,
    database: fixture.database,
    ...overrides,
  });
}

async function connectError(config: Partial<pg.ClientConfig>): Promise<{ code?: string; message: string }> {
  const c = client(config);
  c.on("error", () => {});
  try {
    await c.connect();
  } catch (error) {
    return error as { code?: string; message: string };
  } finally {
    await c.end().catch(() => {});
  }
  throw new Error("connect succeeded");
}

describe("node-postgres through the wire server", () => {
  it("runs simple and extended queries, prepared statements, a transaction and errors", async () => {
    const c = client({ application_name: "pgwire-test" });
    await c.connect();
    try {
      await c.query("CREATE TABLE items (id int PRIMARY KEY, name text)");
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      expect((await c.query("SELECT $1::int + 1 AS answer", [41])).rows).toEqual([{ answer: 42 }]);
      const insert = { name: "insert-item", text: "INSERT INTO items VALUES ($1, $2) RETURNING id" };
      expect((await c.query({ ...insert, values: [1, "one"] })).rows).toEqual([{ id: 1 }]);
      expect((await c.query({ ...insert, values: [2, "two"] })).rows).toEqual([{ id: 2 }]);

      await c.query("BEGIN");
      await c.query("INSERT INTO items VALUES (3, 'three')");
      await expect(c.query("INSERT INTO items VALUES (3, 'again')")).rejects.toMatchObject({ code: "23505" });
      await expect(c.query("SELECT 1")).rejects.toMatchObject({ code: "25P02" });
      await c.query("ROLLBACK");

      await expect(c.query("SELECT 1/0")).rejects.toMatchObject({ code: "22012" });
      await expect(c.query("SELECT $1::int / 0", [1])).rejects.toMatchObject({ code: "22012" });
      const { rows } = await c.query(
        "SELECT count(*)::int AS n, current_setting('application_name') AS app FROM items",
      );
      expect(rows).toEqual([{ n: 2, app: "pgwire-test" }]);
      await c.query("DROP TABLE items");
    } finally {
      await c.end();
    }
    const session = fixture.sessions.at(-1)!;
    expect(session.session.encrypted).toBe(false);
    // Idle after each statement, T inside the block, E once it failed, idle after ROLLBACK.
    expect(session.statuses).toContain("T");
    expect(session.statuses).toContain("E");
    expect(session.statuses.at(-1)).toBe("I");
  });

  it("connects over TLS when asked", async () => {
    const c = client({ ssl: { rejectUnauthorized: false } });
    await c.connect();
    try {
      expect((await c.query("SELECT 'secure' AS s")).rows).toEqual([{ s: "secure" }]);
    } finally {
      await c.end();
    }
    expect(fixture.sessions.at(-1)!.session.encrypted).toBe(true);
  });

  it("announces the backend key the server keeps, and hands a CancelRequest's key on", async () => {
    const c = client();
    await c.connect();
    const announced = fixture.sessions.at(-1)!.session.backendKey;
    const internals = c as unknown as { processID: number; secretKey: number };
    expect({ processId: internals.processID, secretKey: internals.secretKey }).toEqual(announced);
    // node-postgres cancels only its active query; the CancelRequest it would send is this one.
    const canceller = connect(fixture.port, "127.0.0.1");
    canceller.end(serialize.cancel(announced.processId, announced.secretKey));
    await once(canceller, "close");
    expect(fixture.cancels).toContainEqual(announced);
    await c.end();
  });

  it("refuses a wrong password with 28P01, an unknown role the same way, an unknown database with 3D000", async () => {
    const wrong = await connectError({ password: "not-the-password" });
    expect(wrong).toMatchObject({
      code: "28P01",
      message: `password authentication failed for user "${fixture.user}"`,
    });
    const unknownRole = await connectError({ user: "nobody", password: fixture.password });
    expect(unknownRole).toMatchObject({
      code: "28P01",
      message: 'password authentication failed for user "nobody"',
    });
    const unknownDatabase = await connectError({ database: "no_such_database" });
    expect(unknownDatabase).toMatchObject({ code: "3D000" });
    const tlsWrong = await connectError({ password: "not-the-password", ssl: { rejectUnauthorized: false } });
    expect(tlsWrong).toMatchObject({ code: "28P01" });
  });
});
