// psycopg2 (Debian's python3-psycopg2, on libpq) through the wire server and a passthrough session:
// SCRAM login plain and over TLS, a query with parameters, a prepared statement, a transaction
// rolled back after a unique violation, an error's SQLSTATE, and a wrong password refused.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PassthroughFixture, startPassthroughFixture } from "./passthrough-fixture.ts";

const run = promisify(execFile);
const script = fileURLToPath(new URL("./fixtures/psycopg2-session.py", import.meta.url));
// Debian's interpreter, the one python3-psycopg2 installs into (a pyenv python3 may lead PATH).
const python = "/usr/bin/python3";

let fixture: PassthroughFixture;

beforeAll(async () => {
  fixture = await startPassthroughFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

async function session(env: Record<string, string>): Promise<Record<string, unknown>> {
  const { stdout } = await run(python, [script], {
    env: {
      PATH: process.env.PATH ?? "",
      PGHOST: "127.0.0.1",
      PGPORT: String(fixture.port),
      PGUSER: fixture.user,
      PGPASSWORD: fixture.password,
      PGDATABASE: fixture.database,
      ...env,
    },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const expected = {
  query: 42,
  prepared: "two",
  duplicate: "23505",
  count_after_rollback: 2,
  division: "22012",
};

describe("psycopg2 through the wire server", () => {
  it("runs a query, a prepared statement, a transaction and an error without TLS", async () => {
    expect(await session({ PGSSLMODE: "disable" })).toEqual({ ssl: false, ...expected });
    expect(fixture.sessions.at(-1)!.session.encrypted).toBe(false);
  });

  it("does the same over TLS (sslmode=require)", async () => {
    expect(await session({ PGSSLMODE: "require" })).toEqual({ ssl: true, ...expected });
    expect(fixture.sessions.at(-1)!.session.encrypted).toBe(true);
  });

  it("is refused with a wrong password", async () => {
    const result = await session({ PGSSLMODE: "disable", PGPASSWORD: "wrong" });
    // libpq reports a failed connection's message, not its SQLSTATE; the message is 28P01's.
    expect(result.connect_error).toContain(`password authentication failed for user "${fixture.user}"`);
  });
});
