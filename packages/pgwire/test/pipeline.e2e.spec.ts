// A pipeline in one write through the wire server and the passthrough session: many Parse/Bind/
// Execute before one Sync, an error in the middle, and the connection usable after the Sync —
// the framer delivers every message of the chunk and the relay keeps their order.
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type PassthroughFixture, startPassthroughFixture } from "./passthrough-fixture.ts";
import { RawConnection } from "./raw-connection.ts";
import { scramLogin } from "./scram-client.ts";

let fixture: PassthroughFixture;

beforeAll(async () => {
  fixture = await startPassthroughFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

function statement(sql: string, values: string[] = []): Buffer {
  return Buffer.concat([
    serialize.parse({ text: sql }),
    serialize.bind({ values }),
    serialize.describe({ type: "P" }),
    serialize.execute({}),
  ]);
}

/** Reads messages up to and including the next ReadyForQuery; returns their type letters. */
async function untilReady(connection: RawConnection): Promise<string> {
  let types = "";
  for (;;) {
    const message = await connection.message();
    types += String.fromCharCode(message.type);
    if (types.endsWith("Z")) return types;
  }
}

it("answers a pipeline up to its error, skips the rest until Sync, then serves the next query", async () => {
  const connection = await RawConnection.open(fixture.port);
  const greeting = await scramLogin(connection, fixture);
  expect(String.fromCharCode(greeting.at(-1)!.type)).toBe("Z");

  connection.send(
    Buffer.concat([
      serialize.query("BEGIN"),
      statement("SELECT $1::int AS n", ["1"]),
      statement("SELECT $1::int AS n", ["2"]),
      statement("SELECT 1/0"),
      statement("SELECT 3"),
      serialize.sync(),
      serialize.query("ROLLBACK"),
      serialize.query("SELECT 4"),
    ]),
  );
  // BEGIN: CommandComplete, ReadyForQuery (T).
  expect(await untilReady(connection)).toBe("CZ");
  // Two statements answered in full (ParseComplete, BindComplete, RowDescription, DataRow,
  // CommandComplete); the third parses, then fails at Bind (PostgreSQL folds 1/0 when it plans);
  // its Describe and Execute and the whole fourth are skipped until Sync: ReadyForQuery (E).
  expect(await untilReady(connection)).toBe("12TDC12TDC1EZ");
  expect(await untilReady(connection)).toBe("CZ");
  expect(await untilReady(connection)).toBe("TDCZ");
  connection.send(serialize.end());
  await connection.closed();
  expect(fixture.sessions.at(-1)!.statuses).toEqual(["T", "E", "I", "I"]);
});
