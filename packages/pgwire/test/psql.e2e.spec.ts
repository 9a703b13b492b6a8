// psql (libpq) through the wire server and a passthrough session: SCRAM login with
// sslmode=disable and sslmode=require against the fixture's self-signed certificate, DDL, a
// prepared statement, a transaction, a failed one rolled back, \copy in and out, an error's
// SQLSTATE, and a wrong password refused.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PassthroughFixture, startPassthroughFixture } from "./passthrough-fixture.ts";

const run = promisify(execFile);
const script = fileURLToPath(new URL("./fixtures/psql-session.sql", import.meta.url));

let fixture: PassthroughFixture;

beforeAll(async () => {
  fixture = await startPassthroughFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

/** Runs psql with `args`, resolving with its output and exit code (never rejecting on exit 1/2). */
async function psql(sslmode: string, password: string, args: string[]) {
  const conninfo = `host=127.0.0.1 port=${fixture.port} user=${fixture.user} dbname=${fixture.database} sslmode=${sslmode}`;
  try {
    const { stdout, stderr } = await run("psql", ["-X", "-q", "-A", "-t", conninfo, ...args], {
      env: { PATH: process.env.PATH ?? "", PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe.each([
  { sslmode: "disable", encrypted: false },
  { sslmode: "require", encrypted: true },
])("psql with sslmode=$sslmode", ({ sslmode, encrypted }) => {
  it("runs DDL, a prepared statement, transactions, \\copy and an error", async () => {
    const { code, stdout, stderr } = await psql(sslmode, fixture.password, ["-f", script]);
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    // \conninfo adds a line naming the TLS protocol and cipher when the connection is encrypted.
    expect(lines.some((line) => line.startsWith("SSL connection (protocol: TLS"))).toBe(encrypted);
    expect(lines.filter((line) => !line.startsWith("SSL connection"))).toEqual([
      expect.stringContaining(
        `You are connected to database "${fixture.database}" as user "${fixture.user}"`,
      ),
      "two",
      "1\tone",
      "2\ttwo",
      "3\tthree",
      "3",
      "",
    ]);
    // The upstream server's error, SQLSTATE and all, and the failed transaction's refusal.
    expect(stderr).toContain("ERROR:  22012: division by zero");
    const session = fixture.sessions.at(-1)!;
    expect(session.session.encrypted).toBe(encrypted);
    expect(session.statuses).toEqual(expect.arrayContaining(["I", "T", "E"]));
  });

  it("is refused with a wrong password", async () => {
    const { code, stderr } = await psql(sslmode, "wrong", ["-c", "SELECT 1"]);
    expect(code).toBe(2);
    expect(stderr).toContain(`FATAL:  password authentication failed for user "${fixture.user}"`);
  });
});
