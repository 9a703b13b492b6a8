import { createScramVerifier, parseScramVerifier } from "@dbplane/pgwire";
import { KEYSPACE_END } from "@dbplane/sharding";
import { createPostgresServer, type PostgresServer, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DELETE_BATCH_ROWS, RangeMove } from "../src/index.ts";
import {
  createTables,
  leftovers,
  rowsOfRange,
  SEED_ROWS,
  seed,
  specFor,
  sql,
  startWriter,
  testLogger,
} from "./move-world.ts";

let source: PostgresServer;
let target: PostgresServer;

beforeAll(async () => {
  [source, target] = await Promise.all([createPostgresServer(), createPostgresServer()]);
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

async function copyDone(move: RangeMove): Promise<boolean> {
  const progress = await move.progress();
  return progress.tables.every((t) => t.state === "replicating");
}

describe("RangeMove between two servers", () => {
  it("copies the range under concurrent writes, catches up, verifies, and cleans up after itself", async () => {
    // [0, 2^63): the upper bound is the end of the keyspace, which no bigint holds.
    const [from, to] = [0n, KEYSPACE_END];
    await createTables([source, target], "main");
    await seed(source, "main");
    const spec = specFor("main", source, target, "main", from, to);
    const move = new RangeMove(spec, testLogger);
    const writer = startWriter(source, "main");
    await move.start();
    const progress = await move.progress();
    expect(progress.subscribed).toBe(true);
    expect(progress.tables.map((t) => t.table)).toEqual(spec.tables.map((t) => t.table));

    // Least privilege: the role logs in and replicates, reads the moved tables, nothing more; the
    // source stores only a SCRAM verifier of the password the subscription uses.
    const [sub] = await sql<{ conninfo: string }>(
      target,
      "SELECT subconninfo AS conninfo FROM pg_subscription WHERE subname = $1",
      [move.name],
    );
    const password = /password='([^']+)'/.exec(sub!.conninfo)![1]!;
    const [role] = await sql<{ secret: string; login: boolean; replication: boolean; superuser: boolean }>(
      source,
      `SELECT rolpassword AS secret, rolcanlogin AS login, rolreplication AS replication, rolsuper AS superuser
         FROM pg_authid WHERE rolname = $1`,
      [move.name],
    );
    const { iterations, salt } = parseScramVerifier(role!.secret);
    // Compared as a boolean: a failure must not print the secret into the test output.
    expect(createScramVerifier(password, { iterations, salt }) === role!.secret).toBe(true);
    expect({ ...role, secret: undefined }).toMatchObject({
      login: true,
      replication: true,
      superuser: false,
    });
    expect(
      await sql(
        source,
        `SELECT has_table_privilege($1, 'main.accounts', 'SELECT') AS reads,
                has_table_privilege($1, 'main.accounts', 'INSERT, UPDATE, DELETE, TRUNCATE') AS writes`,
        [move.name],
      ),
    ).toEqual([{ reads: true, writes: false }]);
    expect(progress.rowsTotal).toBeGreaterThan(SEED_ROWS / 2);
    await waitFor(() => copyDone(move), { timeoutMs: 30_000, what: "copy done" });
    // Some writes surely after every table's copy: those reach the target only through the stream.
    const atCopyDone = writer.ops();
    await waitFor(() => writer.ops() >= atCopyDone + 20, { what: "writes after the copy" });
    await writer.stop();

    await move.waitApplied(await move.sourceLsn(), 20_000);
    const snapshots = await move.openSnapshots();
    const result = await snapshots.verify();
    await snapshots.close();
    expect(result.equal).toBe(true);
    for (const t of result.tables) expect(t.source.rows).toBeGreaterThan(0);

    // The target holds exactly the source's rows of the range, by PostgreSQL's own hash.
    const sourceRange = await rowsOfRange(source, "main", from, to);
    expect(await rowsOfRange(target, "main", from, to)).toEqual(sourceRange);
    const outside = await rowsOfRange(target, "main", from, to, false);
    expect(outside.accounts).toEqual([]);
    expect(outside.users).toEqual([]);

    await expect(move.deleteFromSource()).rejects.toMatchObject({ code: "STILL_REPLICATING" });
    await move.finish();
    await move.finish();
    expect(await leftovers(source, target, move.name)).toEqual({
      publications: 0,
      slots: 0,
      roles: 0,
      subscriptions: 0,
    });

    const kept = await rowsOfRange(source, "main", from, to, false);
    const reported: number[] = [];
    const deleted = await move.deleteFromSource((n) => reported.push(n));
    expect(deleted).toBe(sourceRange.accounts.length + sourceRange.users.length);
    // In batches of at most DELETE_BATCH_ROWS, each reported with the running total.
    expect(reported.at(-1)).toBe(deleted);
    expect(reported.length).toBeGreaterThanOrEqual(Math.ceil(deleted / DELETE_BATCH_ROWS));
    reported.forEach((n, i) => {
      expect(n - (reported[i - 1] ?? 0)).toBeLessThanOrEqual(DELETE_BATCH_ROWS);
    });
    const after = await rowsOfRange(source, "main", from, to);
    expect(after.accounts).toEqual([]);
    expect(after.users).toEqual([]);
    expect(after.plans).toEqual(sourceRange.plans); // unsharded: never deleted from the source
    expect(await rowsOfRange(source, "main", from, to, false)).toEqual(kept);
  });

  it("continues with a new instance after the caller's crash and reports a difference made behind its back", async () => {
    const [from, to] = [-(2n ** 62n), 2n ** 62n];
    await createTables([source, target], "resume");
    await seed(source, "resume");
    const spec = specFor("resume", source, target, "resume", from, to);
    await new RangeMove(spec, testLogger).start();

    const resumed = new RangeMove(spec, testLogger);
    await resumed.start(); // idempotent: everything exists
    await waitFor(() => copyDone(resumed), { timeoutMs: 30_000, what: "copy done" });
    const progress = await resumed.progress();
    expect(progress.rowsTotal).toBeGreaterThan(0);
    expect(progress.rowsCopied).toBe(progress.rowsTotal);
    await sql(source, "UPDATE resume.plans SET title = 'after copy' WHERE id = 1");
    await resumed.waitApplied(await resumed.sourceLsn(), 20_000);
    expect(await sql(target, "SELECT title FROM resume.plans WHERE id = 1")).toEqual([
      { title: "after copy" },
    ]);

    const first = await resumed.openSnapshots();
    expect((await first.verify()).equal).toBe(true);
    await first.close();
    const [victim] = await sql<{ id: string }>(target, "SELECT id FROM resume.accounts LIMIT 1");
    await sql(target, "DELETE FROM resume.accounts WHERE id = $1", [victim!.id]);
    const second = await resumed.openSnapshots();
    const result = await second.verify();
    await second.close();
    expect(result.equal).toBe(false);
    const accounts = result.tables.find((t) => t.table === "resume.accounts")!;
    expect(accounts.equal).toBe(false);
    expect(accounts.target.rows).toBe(accounts.source.rows - 1);
    expect(result.tables.filter((t) => !t.equal).map((t) => t.table)).toEqual(["resume.accounts"]);

    await resumed.finish();
    expect(await leftovers(source, target, resumed.name)).toEqual({
      publications: 0,
      slots: 0,
      roles: 0,
      subscriptions: 0,
    });
  });

  it("stopApplying() holds what the source commits until resumeApplying(), which catches it up from the slot", async () => {
    const [from, to] = [-(2n ** 63n), KEYSPACE_END];
    await createTables([source, target], "paused");
    await seed(source, "paused");
    const move = new RangeMove(specFor("paused", source, target, "paused", from, to), testLogger);
    await move.start();
    await waitFor(() => copyDone(move), { timeoutMs: 30_000, what: "copy done" });
    await move.waitApplied(await move.sourceLsn(), 20_000);
    await move.stopApplying();
    await move.stopApplying(); // idempotent
    await sql(source, "UPDATE paused.plans SET title = 'while stopped' WHERE id = 1");
    const lsn = await move.sourceLsn();
    await expect(move.waitApplied(lsn, 1_500)).rejects.toMatchObject({ code: "APPLY_TIMEOUT" });
    expect(await sql(target, "SELECT title FROM paused.plans WHERE id = 1")).not.toEqual([
      { title: "while stopped" },
    ]);
    await move.resumeApplying();
    await move.resumeApplying(); // idempotent
    await move.waitApplied(lsn, 20_000);
    expect(await sql(target, "SELECT title FROM paused.plans WHERE id = 1")).toEqual([
      { title: "while stopped" },
    ]);
    await move.finish();
  });

  it("a serving target hides the copied rows from every non-superuser until revealOnTarget(), then restores its settings", async () => {
    const [from, to] = [0n, KEYSPACE_END];
    await createTables([source, target], "serving");
    await seed(source, "serving");
    // The target serves the other half already: rows of its own, read by the tables' owner.
    await sql(
      target,
      "INSERT INTO serving.accounts SELECT -g, 0, 'own' FROM generate_series(1, 300) g WHERE hashint8extended(-g::bigint, 0) < 0",
    );
    const own = Number(
      (await sql<{ n: string }>(target, "SELECT count(*) AS n FROM serving.accounts"))[0]!.n,
    );
    await sql(
      target,
      "CREATE ROLE serving_owner LOGIN; ALTER TABLE serving.accounts OWNER TO serving_owner; GRANT USAGE ON SCHEMA serving TO serving_owner",
    );
    const asOwner = async () => {
      const client = new pg.Client({
        connectionString: target.url.replace("//postgres@", "//serving_owner@"),
      });
      await client.connect();
      try {
        return Number(
          (await client.query<{ n: string }>("SELECT count(*) AS n FROM serving.accounts")).rows[0]!.n,
        );
      } finally {
        await client.end();
      }
    };
    const spec = { ...specFor("serving", source, target, "serving", from, to), targetServes: true };
    spec.tables = spec.tables.filter((t) => t.key);
    const move = new RangeMove(spec, testLogger);
    await move.start();
    await waitFor(() => copyDone(move), { timeoutMs: 30_000, what: "copy done" });
    await move.waitApplied(await move.sourceLsn(), 20_000);
    const copied = (await rowsOfRange(source, "serving", from, to)).accounts.length;
    expect(copied).toBeGreaterThan(0);
    expect(
      Number((await sql<{ n: string }>(target, "SELECT count(*) AS n FROM serving.accounts"))[0]!.n),
    ).toBe(own + copied);
    expect(await asOwner()).toBe(own);
    await move.stopApplying();
    await move.revealOnTarget();
    await move.revealOnTarget(); // idempotent
    expect(await asOwner()).toBe(own + copied);
    expect(
      await sql(
        target,
        "SELECT relrowsecurity AS rls, relforcerowsecurity AS force FROM pg_class WHERE oid = 'serving.accounts'::regclass",
      ),
    ).toEqual([{ rls: false, force: false }]);
    expect(
      await sql(
        target,
        "SELECT count(*)::int AS n FROM pg_policy WHERE polrelid = 'serving.accounts'::regclass",
      ),
    ).toEqual([{ n: 0 }]);
    await move.finish();
  });

  it("a serving target refuses an unsharded table in the spec", () => {
    const spec = { ...specFor("bad", source, target, "serving", 0n, KEYSPACE_END), targetServes: true };
    expect(() => new RangeMove(spec, testLogger)).toThrow(/unsharded/);
  });

  it("cancel() drops the replication objects and every copied row on the target, and leaves the source", async () => {
    const [from, to] = [-(2n ** 63n), 0n];
    await createTables([source, target], "cancelled");
    await seed(source, "cancelled");
    const before = await rowsOfRange(source, "cancelled", from, to);
    const move = new RangeMove(specFor("cancelled", source, target, "cancelled", from, to), testLogger);
    await move.start();
    await waitFor(async () => (await move.progress()).rowsCopied > 0, {
      timeoutMs: 30_000,
      what: "copy begun",
    });
    await move.cancel();
    expect(await leftovers(source, target, move.name)).toEqual({
      publications: 0,
      slots: 0,
      roles: 0,
      subscriptions: 0,
    });
    expect(
      await sql(
        target,
        `SELECT (SELECT count(*) FROM cancelled.accounts)::int AS accounts,
                (SELECT count(*) FROM cancelled.users)::int AS users,
                (SELECT count(*) FROM cancelled.plans)::int AS plans`,
      ),
    ).toEqual([{ accounts: 0, users: 0, plans: 0 }]);
    expect(await rowsOfRange(source, "cancelled", from, to)).toEqual(before);
  });

  it("counts the target's apply errors, times out waiting for a change it cannot apply, and still cancels", async () => {
    await createTables([source, target], "conflict");
    await seed(source, "conflict");
    const move = new RangeMove(specFor("conflict", source, target, "conflict", 0n, KEYSPACE_END), testLogger);
    await move.start();
    await waitFor(() => copyDone(move), { timeoutMs: 30_000, what: "copy done" });
    expect((await move.progress()).errors).toEqual({ apply: 0, sync: 0 });
    // A row of the range written on the target behind the move's back, then the same key on the source.
    const [key] = await sql<{ id: string }>(
      source,
      "SELECT g::text AS id FROM generate_series(100000, 100100) g WHERE hashint8extended(g, 0) >= 0 LIMIT 1",
    );
    await sql(target, "INSERT INTO conflict.accounts VALUES ($1, 0, 'target')", [key!.id]);
    await sql(source, "INSERT INTO conflict.accounts VALUES ($1, 0, 'source')", [key!.id]);
    await expect(move.waitApplied(await move.sourceLsn(), 1_500)).rejects.toMatchObject({
      code: "APPLY_TIMEOUT",
    });
    await waitFor(async () => (await move.progress()).errors.apply > 0, { what: "an apply error counted" });
    await move.cancel();
    expect(await leftovers(source, target, move.name)).toEqual({
      publications: 0,
      slots: 0,
      roles: 0,
      subscriptions: 0,
    });
  });

  it("syncSequences moves the target's serial and identity sequences up to the source's, never back", async () => {
    for (const server of [source, target]) {
      await sql(
        server,
        `CREATE SCHEMA seq;
         CREATE TABLE seq.events (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n serial NOT NULL);
         CREATE TABLE seq.notes (id bigserial PRIMARY KEY);`,
      );
    }
    await sql(source, "INSERT INTO seq.events SELECT FROM generate_series(1, 50)");
    await sql(target, "SELECT setval(pg_get_serial_sequence('seq.notes', 'id'), 500)");
    await sql(source, "INSERT INTO seq.notes SELECT FROM generate_series(1, 10)");
    const move = new RangeMove(
      {
        ...specFor("seq", source, target, "seq", 0n, KEYSPACE_END),
        tables: [{ table: "seq.events", key: { column: "id", type: "bigint" } }, { table: "seq.notes" }],
      },
      testLogger,
    );
    expect(await move.syncSequences()).toEqual([
      { table: "seq.events", column: "id", next: "51" },
      { table: "seq.events", column: "n", next: "51" },
      { table: "seq.notes", column: "id", next: "501" },
    ]);
    expect(await sql(target, "INSERT INTO seq.events DEFAULT VALUES RETURNING id::int, n")).toEqual([
      { id: 51, n: 51 },
    ]);
    expect(await sql(target, "INSERT INTO seq.notes DEFAULT VALUES RETURNING id::int")).toEqual([
      { id: 501 },
    ]);
  });
});
