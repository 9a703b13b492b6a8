// A session's connection goes back to the pool through `DISCARD ALL`. A backend terminated while
// that reset is in flight reports itself to the reset's query and again as an 'error' event on
// the connection: the router must hear both (an unheard 'error' ends the process — fresh-clone
// run 5 lost its router exactly so, when routing.e2e terminated the pooled backends).
import { createTestDatabase, type TestDatabase, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerSession, withServerSession } from "../src/shards/server-session.ts";

let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Pool;
const unheard: unknown[] = [];
const onUncaught = (err: unknown) => unheard.push(err);

beforeAll(async () => {
  db = await createTestDatabase("session");
  const url = new URL(db.url);
  pool = new pg.Pool({ connectionString: db.url, max: 2, application_name: "session-test" });
  pool.on("error", () => {});
  admin = new pg.Pool({ connectionString: db.url, max: 1 });
  process.on("uncaughtException", onUncaught);
  expect(url.pathname.length).toBeGreaterThan(1);
});
afterAll(async () => {
  process.off("uncaughtException", onUncaught);
  await pool?.end();
  await admin?.end();
  await db?.drop();
});

it("a backend terminated while its session is being reset ends nothing but that connection", async () => {
  const server = { host: "127.0.0.1", port: Number(new URL(db.url).port || 5432) };
  let terminated = 0;
  for (let i = 0; i < 30; i++) {
    // A pooled connection whose backend was terminated after its reset may be checked out before
    // its FATAL arrives: that statement fails (the router retries a read once on a fresh one).
    const pid = await withServerSession(pool, server, { deadlineMs: 10_000, callerSql: true }, (session) =>
      session.run(
        async (client) =>
          (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid,
      ),
    ).catch((err: { code?: string; message: string }) => {
      expect(err.code === "57P01" || /terminated/.test(err.message), err.message).toBe(true);
      return undefined;
    });
    if (pid === undefined) continue;
    // The reset (DISCARD ALL) is in flight now: terminate its backend under it.
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    terminated++;
  }
  expect(terminated).toBeGreaterThan(10);
  // The pool still serves, on fresh connections (a last terminated one may fail once, as above).
  let ok: number | undefined;
  for (let attempt = 0; attempt < 3 && ok === undefined; attempt++) {
    ok = await withServerSession(pool, server, { deadlineMs: 10_000, callerSql: true }, (session) =>
      session.run(async (client) => (await client.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one),
    ).catch(() => undefined);
  }
  expect(ok).toBe(1);
  await new Promise((r) => setTimeout(r, 200));
  expect(unheard).toEqual([]);
});

describe("runLast: the statement and the reset in one round trip", () => {
  let one: pg.Pool;
  const server = () => ({ host: "127.0.0.1", port: Number(new URL(db.url).port || 5432) });
  // One connection: every session below is the same backend unless one was dropped.
  const session = <T>(work: (s: ServerSession) => Promise<T>) =>
    withServerSession(one, server(), { deadlineMs: 10_000, callerSql: true }, work);
  const sql =
    <T extends pg.QueryResultRow>(text: string) =>
    (client: pg.PoolClient) =>
      client.query<T>(text);

  beforeAll(() => {
    one = new pg.Pool({ connectionString: db.url, max: 1 });
    one.on("error", () => {});
  });
  afterAll(async () => {
    await one?.end();
  });

  it("answers with the statement's own result, and a setting it made is gone for the next session", async () => {
    const made = await session((s) =>
      s.runLast(sql<{ was: string }>("SELECT set_config('statement_timeout', '4321', false) AS was")),
    );
    expect(made.rows).toEqual([{ was: "4321ms" }]);
    const now = await session((s) => s.runLast(sql<{ statement_timeout: string }>("SHOW statement_timeout")));
    expect(now.rows[0]!.statement_timeout).not.toBe("4321ms");
  });

  it("a statement that fails still has its session reset and kept", async () => {
    const before = await session((s) => s.run(sql<{ pid: number }>("SELECT pg_backend_pid() AS pid")));
    await expect(session((s) => s.runLast(sql("SELECT 1 / 0")))).rejects.toMatchObject({ code: "22012" });
    const after = await session((s) => s.runLast(sql<{ pid: number }>("SELECT pg_backend_pid() AS pid")));
    expect(after.rows[0]!.pid).toBe(before.rows[0]!.pid);
  });

  it("a transaction the statement leaves open is not the next session's: the connection is dropped", async () => {
    const opened = await session(async (s) => {
      await s.runLast(sql("BEGIN READ WRITE"));
      return s;
    });
    expect(opened).toBeDefined();
    const next = await session((s) =>
      s.runLast(sql<{ open: boolean }>("SELECT now() = statement_timestamp() AS open")),
    );
    // Outside a transaction block now() is the statement's own start: true.
    expect(next.rows[0]!.open).toBe(true);
  });
});

describe("deadlines, request ends and sessions without a reset", () => {
  let one: pg.Pool;
  const server = () => ({ host: "127.0.0.1", port: Number(new URL(db.url).port || 5432) });
  const sql =
    <T extends pg.QueryResultRow>(text: string) =>
    (client: pg.PoolClient) =>
      client.query<T>(text);
  const pid = (s: ServerSession) => s.run(sql<{ pid: number }>("SELECT pg_backend_pid() AS pid"));
  /** Whether a backend still runs a statement containing `marker` (checked from another connection). */
  const running = async (marker: string) =>
    (
      await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${marker}%`],
      )
    ).rowCount !== 0;

  beforeAll(() => {
    one = new pg.Pool({ connectionString: db.url, max: 1 });
    one.on("error", () => {});
  });
  afterAll(async () => {
    await one?.end();
  });

  it("bounds each statement, not the session: statements under the deadline pass however long together", async () => {
    const limits = { deadlineMs: 2_000, callerSql: false };
    const answers = await withServerSession(one, server(), limits, async (s) => {
      const out: number[] = [];
      for (let i = 0; i < 3; i++) {
        await s.run(sql("SELECT pg_sleep(0.8)"));
        out.push(i);
      }
      // Longer than the deadline between statements: the timer firing then stops nothing.
      await new Promise((r) => setTimeout(r, 2_200));
      await s.run(sql("SELECT 1"));
      return out;
    });
    expect(answers).toEqual([0, 1, 2]);
  });

  it("a statement past its deadline is cancelled on the server and its connection dropped", async () => {
    const marker = "deadline_marker_1";
    const before = await withServerSession(one, server(), { deadlineMs: 10_000, callerSql: false }, pid);
    await expect(
      withServerSession(one, server(), { deadlineMs: 300, callerSql: false }, (s) =>
        s.run(sql(`SELECT pg_sleep(30) /* ${marker} */`)),
      ),
    ).rejects.toMatchObject({ code: "SERVER_DEADLINE" });
    await waitFor(async () => !(await running(marker)), { what: "the statement to be cancelled" });
    const after = await withServerSession(one, server(), { deadlineMs: 10_000, callerSql: false }, pid);
    expect(after.rows[0]!.pid).not.toBe(before.rows[0]!.pid);
  });

  it("a statement running when the signal aborts is cancelled on the server", async () => {
    const marker = "abort_marker_1";
    const listeners = new Set<() => void>();
    const signal = {
      aborted: false,
      onAbort: (l: () => void) => listeners.add(l),
      offAbort: (l: () => void) => listeners.delete(l),
    };
    const statement = withServerSession(
      one,
      server(),
      { deadlineMs: 60_000, callerSql: false, signal },
      (s) => s.run(sql(`SELECT pg_sleep(30) /* ${marker} */`)),
    );
    statement.catch(() => {});
    await waitFor(() => running(marker), { what: "the statement to run" });
    signal.aborted = true;
    for (const l of [...listeners]) l();
    await expect(statement).rejects.toMatchObject({ code: "57014" });
    await waitFor(async () => !(await running(marker)), { what: "the statement to be cancelled" });
    expect(listeners.size).toBe(0);
  });

  it("a session without a reset that is left inside a transaction is dropped, not pooled", async () => {
    const before = await withServerSession(one, server(), { deadlineMs: 10_000, callerSql: false }, pid);
    await withServerSession(one, server(), { deadlineMs: 10_000, callerSql: false }, (s) =>
      s.runLast(sql("BEGIN")),
    );
    const after = await withServerSession(one, server(), { deadlineMs: 10_000, callerSql: false }, (s) =>
      s.run(
        sql<{ pid: number; open: boolean }>(
          "SELECT pg_backend_pid() AS pid, now() = statement_timestamp() AS open",
        ),
      ),
    );
    expect(after.rows[0]!.open).toBe(true);
    expect(after.rows[0]!.pid).not.toBe(before.rows[0]!.pid);
  });
});
