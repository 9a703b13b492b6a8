import { KEYSPACE_END, KEYSPACE_MIN } from "@dbplane/sharding";
import { createPostgresServer, type PostgresServer, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { medianSplitPoint, RangeMove, RangeMoveError } from "../src/index.ts";
import {
  createTables,
  leftovers,
  rowsOfRange,
  seed,
  shardOf,
  specFor,
  sql,
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

const nothingLeft = { publications: 0, slots: 0, roles: 0, subscriptions: 0 };

describe("RangeMove.start", () => {
  it("refuses tables it cannot replicate and a target that holds rows of the range, creating nothing", async () => {
    await createTables([source, target], "refused");
    for (const server of [source, target]) {
      await sql(
        server,
        `CREATE TABLE refused.logs (id bigint, line text);
         CREATE TABLE refused.orders (id bigint PRIMARY KEY, owner bigint NOT NULL);`,
      );
    }
    const base = specFor("refused", source, target, "refused", 0n, KEYSPACE_END);
    const withTable = (table: string, column: string) =>
      new RangeMove(
        { ...base, tables: [...base.tables, { table, key: { column, type: "bigint" } }] },
        testLogger,
      );
    const noKey = await withTable("refused.logs", "id")
      .start()
      .catch((err: unknown) => err);
    expect(noKey).toBeInstanceOf(RangeMoveError);
    expect(noKey).toMatchObject({ code: "NO_REPLICA_IDENTITY" });
    expect((noKey as Error).message).toContain("refused.logs");
    // A shard key outside the primary key: PostgreSQL could not evaluate the row filter on an UPDATE.
    await expect(withTable("refused.orders", "owner").start()).rejects.toMatchObject({
      code: "NO_REPLICA_IDENTITY",
      message: expect.stringContaining("owner"),
    });
    await expect(withTable("refused.orders", "customer").start()).rejects.toMatchObject({
      code: "KEY_MISSING",
    });
    await expect(
      new RangeMove({ ...base, tables: [{ table: "refused.nothing" }] }, testLogger).start(),
    ).rejects.toMatchObject({ code: "TABLE_MISSING" });

    const [inRange] = await sql<{ id: string }>(
      source,
      "SELECT g::text AS id FROM generate_series(1, 100) g WHERE hashint8extended(g, 0) >= 0 LIMIT 1",
    );
    await sql(target, "INSERT INTO refused.accounts VALUES ($1, 0, 'stray')", [inRange!.id]);
    await expect(new RangeMove(base, testLogger).start()).rejects.toMatchObject({ code: "TARGET_NOT_EMPTY" });
    expect(await leftovers(source, target, "dbplane_rs_refused")).toEqual(nothingLeft);
  });

  it("refuses a source whose wal_level is not logical", async () => {
    const replicaLevel = await createPostgresServer({ walLevel: "replica" });
    try {
      await createTables([replicaLevel, target], "walless");
      const move = new RangeMove(
        specFor("walless", replicaLevel, target, "walless", 0n, KEYSPACE_END),
        testLogger,
      );
      await expect(move.start()).rejects.toMatchObject({ code: "WAL_LEVEL" });
    } finally {
      await replicaLevel.stop();
    }
  });

  it("rejects a malformed spec before connecting, naming the field", () => {
    const base = specFor("bad", source, target, "bad", 0n, KEYSPACE_END);
    expect(() => new RangeMove({ ...base, id: "Bad-Id" }, testLogger)).toThrow(/spec\.id/);
    expect(() => new RangeMove({ ...base, from: 5n, to: 5n }, testLogger)).toThrow(/spec\.from/);
    expect(() => new RangeMove({ ...base, to: KEYSPACE_END + 1n }, testLogger)).toThrow(
      /spec\.from\/spec\.to/,
    );
  });

  it("completes a start that failed after creating the source's objects", async () => {
    await createTables([source, target], "partial");
    await seed(source, "partial");
    const spec = specFor("partial", source, target, "partial", KEYSPACE_MIN, 0n);
    // The target cannot reach the source here: role, publication and slot exist, the subscription fails.
    const unreachable = await new RangeMove(
      { ...spec, sourceFromTarget: { host: "127.0.0.1", port: 1 } },
      testLogger,
    )
      .start()
      .catch((err: unknown) => err);
    expect(unreachable).toBeInstanceOf(Error);
    expect(String((unreachable as Error).message)).not.toMatch(/password/i);
    expect(await leftovers(source, target, "dbplane_rs_partial")).toMatchObject({
      publications: 1,
      slots: 1,
      roles: 1,
      subscriptions: 0,
    });

    const move = new RangeMove(spec, testLogger);
    await move.start();
    await waitFor(async () => (await move.progress()).tables.every((t) => t.state === "replicating"), {
      timeoutMs: 30_000,
      what: "copy done",
    });
    await move.waitApplied(await move.sourceLsn(), 20_000);
    expect(await rowsOfRange(target, "partial", spec.from, spec.to)).toEqual(
      await rowsOfRange(source, "partial", spec.from, spec.to),
    );
    await move.finish();
    expect(await leftovers(source, target, move.name)).toEqual(nothingLeft);
  });
});

describe("RangeMove initial copy", () => {
  it("starts a copy that failed part-way over from a new slot: the parts it committed are cleared, nothing doubles", async () => {
    await createTables([source, target], "restart");
    await seed(source, "restart");
    const spec = specFor("restart", source, target, "restart", KEYSPACE_MIN, 0n);
    // The accounts part waits for this lock while users and plans commit.
    const holder = new pg.Client({ connectionString: target.url });
    await holder.connect();
    await holder.query("BEGIN; LOCK TABLE restart.accounts IN SHARE MODE");
    const first = new RangeMove(spec, testLogger);
    await first.start();
    await waitFor(
      async () =>
        (await sql<{ n: number }>(target, "SELECT count(*)::int AS n FROM restart.plans"))[0]!.n > 0,
      { timeoutMs: 30_000, what: "a part committed" },
    );
    await waitFor(
      async () =>
        (
          await sql<{ n: number }>(
            target,
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
              WHERE application_name = 'dbplane_rs_restart_copy' AND wait_event_type = 'Lock'`,
          )
        )[0]!.n > 0,
      { timeoutMs: 30_000, what: "the accounts part waiting, then ended" },
    );
    await holder.query("ROLLBACK");
    await holder.end();
    const failed = await waitFor(
      () =>
        first.progress().then(
          () => false,
          (err: unknown) => err,
        ),
      {
        timeoutMs: 30_000,
        what: "the copy's failure reported",
      },
    );
    expect(failed).toBeInstanceOf(Error);

    const resumed = new RangeMove(spec, testLogger);
    await resumed.start();
    await waitFor(async () => (await resumed.progress()).tables.every((t) => t.state === "replicating"), {
      timeoutMs: 30_000,
      what: "copy done",
    });
    const progress = await resumed.progress();
    expect(progress.rowsCopied).toBe(progress.rowsTotal);
    await sql(source, "UPDATE restart.plans SET title = 'after copy' WHERE id = 1");
    await resumed.waitApplied(await resumed.sourceLsn(), 20_000);
    expect(await rowsOfRange(target, "restart", spec.from, spec.to)).toEqual(
      await rowsOfRange(source, "restart", spec.from, spec.to),
    );
    expect(progress.rowsCopied).toBe(
      Object.values(await rowsOfRange(source, "restart", spec.from, spec.to)).reduce(
        (sum, rows) => sum + rows.length,
        0,
      ),
    );
    await resumed.finish();
    expect(await leftovers(source, target, resumed.name)).toEqual(nothingLeft);
  });

  it("copies a big table in block ranges from one snapshot: every row of the range once, counted from the stream", async () => {
    await createTables([source, target], "big");
    // ~2,500 pages: two block ranges.
    await sql(
      source,
      `INSERT INTO big.accounts SELECT g, g % 1000, repeat(md5(g::text), 30) FROM generate_series(1, 20000) g;
       ANALYZE big.accounts`,
    );
    const spec = specFor("big", source, target, "big", -(2n ** 62n), 2n ** 62n);
    const move = new RangeMove(spec, testLogger);
    await move.start();
    await waitFor(async () => (await move.progress()).tables.every((t) => t.state === "replicating"), {
      timeoutMs: 60_000,
      what: "copy done",
    });
    const expected = await rowsOfRange(source, "big", spec.from, spec.to);
    expect(await rowsOfRange(target, "big", spec.from, spec.to)).toEqual(expected);
    const accounts = (await move.progress()).tables.find((t) => t.table === "big.accounts")!;
    expect(accounts.rowsCopied).toBe(expected.accounts.length);
    await move.finish();
    expect(await leftovers(source, target, move.name)).toEqual(nothingLeft);
  });
});

describe("medianSplitPoint", () => {
  it("halves the rows of the range by PostgreSQL's hash, and takes the middle of a range with fewer than two", async () => {
    await createTables([source], "median");
    await seed(source, "median");
    const table = { table: "median.accounts", key: { column: "id", type: "bigint" } } as const;
    const [from, to] = [KEYSPACE_MIN, KEYSPACE_END];
    const at = await medianSplitPoint(shardOf(source), table, from, to);
    const [halves] = await sql<{ low: number; high: number }>(
      source,
      `SELECT count(*) FILTER (WHERE hashint8extended(id, 0) < $1::bigint)::int AS low,
              count(*) FILTER (WHERE hashint8extended(id, 0) >= $1::bigint)::int AS high
         FROM median.accounts`,
      [at.toString()],
    );
    expect(Math.abs(halves!.low - halves!.high)).toBeLessThanOrEqual(1);
    expect(halves!.low + halves!.high).toBe(10_000);

    await sql(source, "DELETE FROM median.accounts WHERE id > 1");
    expect(await medianSplitPoint(shardOf(source), table, -100n, 100n)).toBe(0n);
    await expect(
      medianSplitPoint(shardOf(source), { table: "median.plans" }, from, to),
    ).rejects.toMatchObject({
      code: "INVALID_SPEC",
    });
  });
});
