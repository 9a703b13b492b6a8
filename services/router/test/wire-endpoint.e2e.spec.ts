// The router's PostgreSQL wire endpoint end to end: a router process, a database of two shards
// (real PostgreSQL databases), node-postgres and psql connecting as the application role. Where
// a row landed is checked on each shard directly, with PostgreSQL's own hash function.
import { databaseDeleted } from "@dbplane/contracts";
import { BackendConnection, BackendMessageType, noticeFields, type WireMessage } from "@dbplane/pgwire";
import { uniqueName, waitFor } from "@dbplane/testkit";
import type pg from "pg";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keysPerShard, startWireWorld, type WireWorld } from "./wire-world.ts";

const DB = "wireshop";
let wire: WireWorld;
let client: pg.Client;

beforeAll(async () => {
  // Two connections per shard server: sessions take turns on the same ones.
  wire = await startWireWorld(
    2,
    DB,
    [{ table: "items", keyColumn: "id", keyType: "bigint" }],
    { DBPLANE_ROUTER_WIRE_POOL_SIZE: "2" },
    { tls: true },
  );
  client = await wire.client();
  await client.query("CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)");
  await client.query("CREATE TABLE colours (name text PRIMARY KEY)");
});
afterAll(async () => {
  await client?.end().catch(() => {});
  await wire?.dispose();
});

/** Rows of `sql` on shard `index`, straight from the shard. */
async function onShard<T extends pg.QueryResultRow>(
  index: number,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  return (await wire.world.shards[index]!.pool.query<T>(sql, params)).rows;
}

describe("authentication", () => {
  it("logs the application role in with SCRAM-SHA-256 and answers a query", async () => {
    const other = await wire.client();
    const { rows } = await other.query("SELECT current_user AS who, 1 + 1 AS two");
    expect(rows).toEqual([{ who: wire.user, two: 2 }]);
    await other.end();
  });

  it("a wrong password is 28P01", async () => {
    await expect(wire.client({ password: "not-the-password" })).rejects.toMatchObject({ code: "28P01" });
  });

  it("an unknown database is 3D000", async () => {
    await expect(wire.client({ database: "no_such_database" })).rejects.toMatchObject({ code: "3D000" });
  });

  it("answers SSLRequest with TLS when a certificate is configured", async () => {
    const tls = await wire.client({ ssl: { rejectUnauthorized: false } });
    const socket = (tls as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
    expect(socket.encrypted).toBe(true);
    expect((await tls.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await tls.end();
    const info = await wire.psql(["-c", "\\conninfo"], undefined, { PGSSLMODE: "require" });
    expect(info, info).toMatch(/SSL connection/);
  });

  it("another user than the application role is 28P01", async () => {
    await expect(wire.client({ user: "postgres" })).rejects.toMatchObject({ code: "28P01" });
  });
});

describe("routing", () => {
  it("DDL and a write to an unsharded table reach every shard", async () => {
    await client.query("INSERT INTO colours VALUES ('red'), ('blue')");
    for (const shard of [0, 1]) {
      expect(await onShard(shard, "SELECT name FROM colours ORDER BY name")).toEqual([
        { name: "blue" },
        { name: "red" },
      ]);
    }
    const { rows } = await client.query("SELECT count(*)::int AS n FROM colours");
    expect(rows).toEqual([{ n: 2 }]);
  });

  it("puts each keyed insert on the shard owning its key; reads it back by key; scatter count(*) is one row", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => BigInt(i) * 7919n - 500_000n);
    for (const [i, id] of ids.entries()) {
      // Half as literals (simple protocol), half as parameters (extended protocol).
      if (i % 2 === 0) await client.query(`INSERT INTO items (id, note) VALUES (${id}, 'row ${id}')`);
      else await client.query("INSERT INTO items (id, note) VALUES ($1, $2)", [String(id), `row ${id}`]);
    }
    let total = 0;
    for (const shard of [0, 1]) {
      const rows = await onShard<{ id: string }>(shard, "SELECT id FROM items");
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(wire.shardOf(BigInt(row.id))).toBe(shard);
      total += rows.length;
    }
    expect(total).toBe(ids.length);

    const byKey = await client.query("SELECT id, note FROM items WHERE id = $1", [String(ids[7])]);
    expect(byKey.rows).toEqual([{ id: String(ids[7]), note: `row ${ids[7]}` }]);
    const literal = await client.query(`SELECT note FROM items WHERE id = ${ids[8]}`);
    expect(literal.rows).toEqual([{ note: `row ${ids[8]}` }]);

    const count = await client.query("SELECT count(*) AS n FROM items");
    expect(count.rows).toEqual([{ n: String(ids.length) }]);
    const sorted = await client.query("SELECT id FROM items ORDER BY id DESC LIMIT 3");
    const expected = [...ids].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).slice(0, 3);
    expect(sorted.rows.map((r) => BigInt(r.id))).toEqual(expected);
  });

  it("splits a multi-row INSERT by key: each row on its own shard, one INSERT tag with the total", async () => {
    const keys = keysPerShard(wire, 2, 60_000_000);
    const result = await client.query(
      `INSERT INTO items (id, note) VALUES ${keys.map((k) => `(${k}, 'multi')`).join(", ")}`,
    );
    expect(result.rowCount).toBe(2);
    for (const key of keys) {
      expect(await onShard(wire.shardOf(key), "SELECT note FROM items WHERE id = $1", [String(key)])).toEqual(
        [{ note: "multi" }],
      );
    }
  });

  it("a scatter read with parameters (extended protocol) answers one merged row", async () => {
    const keys = keysPerShard(wire, 2, 70_000_000);
    for (const key of keys)
      await client.query("INSERT INTO items (id, note) VALUES ($1, 'scattered')", [String(key)]);
    const { rows } = await client.query("SELECT count(*) AS n FROM items WHERE note = $1", ["scattered"]);
    expect(rows).toEqual([{ n: "2" }]);
  });

  it("merges GROUP BY with count, sum and avg over the shards exactly as one server would answer", async () => {
    const sql = `SELECT left(note, 3) AS prefix, count(*) AS n, sum(id) AS total, avg(id) AS mean
                 FROM items GROUP BY left(note, 3) ORDER BY prefix`;
    const routed = await client.query(sql);
    // The same statement over the union of the shards' rows, on one server.
    const union = await Promise.all(
      [0, 1].map((shard) => onShard<{ id: string; note: string }>(shard, "SELECT id, note FROM items")),
    );
    const rows = union.flat();
    const direct = await wire.world.shards[0]!.pool.query(
      `SELECT left(note, 3) AS prefix, count(*) AS n, sum(id) AS total, avg(id) AS mean
       FROM unnest($1::bigint[], $2::text[]) AS t(id, note) GROUP BY left(note, 3) ORDER BY prefix`,
      [rows.map((r) => r.id), rows.map((r) => r.note)],
    );
    expect(routed.rows).toEqual(direct.rows);
    expect(routed.fields.map((f) => f.name)).toEqual(["prefix", "n", "total", "mean"]);
  });

  it("SET dbplane.shard_key and a /* dbplane_shard_key */ comment send keyless statements to that key's shard", async () => {
    const [a, b] = keysPerShard(wire, 2, 80_000_000);
    const counts = await Promise.all(
      [0, 1].map(async (shard) =>
        Number((await onShard<{ n: string }>(shard, "SELECT count(*) AS n FROM items"))[0]!.n),
      ),
    );
    const hinted = await wire.client();
    await hinted.query(`SET dbplane.shard_key = '${b}'`);
    expect((await hinted.query("SELECT count(*) AS n FROM items")).rows).toEqual([
      { n: String(counts[wire.shardOf(b!)]) },
    ]);
    await hinted.query("RESET dbplane.shard_key");
    expect((await hinted.query("SELECT count(*) AS n FROM items")).rows).toEqual([
      { n: String(counts[0]! + counts[1]!) },
    ]);
    const commented = await hinted.query(`/* dbplane_shard_key: ${a} */ SELECT count(*) AS n FROM items`);
    expect(commented.rows).toEqual([{ n: String(counts[wire.shardOf(a!)]) }]);
    await hinted.end();
  });

  it("a write to a sharded table without its key is refused (0A000) unless dbplane.allow_scatter_writes", async () => {
    await expect(client.query("UPDATE items SET note = note")).rejects.toMatchObject({ code: "0A000" });
    await client.query("SET dbplane.allow_scatter_writes = on");
    const updated = await client.query("UPDATE items SET note = note WHERE note LIKE 'row %'");
    expect(updated.rowCount).toBe(200);
    // An INSERT whose key is unknown would copy its row to every shard: refused all the same.
    await expect(client.query("INSERT INTO items VALUES (-1, 'no column list')")).rejects.toMatchObject({
      code: "0A000",
      message: expect.stringContaining("without a column list"),
    });
    await client.query("SET dbplane.allow_scatter_writes = off");
    expect(
      (await client.query("SELECT count(*) AS n FROM items WHERE note = 'no column list'")).rows,
    ).toEqual([{ n: "0" }]);
  });
});

describe("session settings", () => {
  it("a SET holds for every statement of its session, on whichever connection, and never leaks to another client", async () => {
    const mine = await wire.client();
    const other = await wire.client();
    await mine.query("SET statement_timeout = '12345'");
    for (let i = 0; i < 6; i++) {
      const [own, theirs] = await Promise.all([
        mine.query("SHOW statement_timeout"),
        other.query("SHOW statement_timeout"),
      ]);
      expect(own.rows).toEqual([{ statement_timeout: "12345ms" }]);
      expect(theirs.rows).not.toEqual([{ statement_timeout: "12345ms" }]);
    }
    await mine.query("RESET statement_timeout");
    expect((await mine.query("SHOW statement_timeout")).rows).toEqual(
      (await other.query("SHOW statement_timeout")).rows,
    );
    await Promise.all([mine.end(), other.end()]);
  });
});

describe("startup options", () => {
  it("applies PGOPTIONS' -c settings on every statement of the session", async () => {
    const out = await wire.psql(
      ["-At", "-c", "SHOW statement_timeout", "-c", "SHOW lock_timeout"],
      undefined,
      {
        PGOPTIONS: "-c statement_timeout=4321 -c lock_timeout=1234",
      },
    );
    expect(out.trim().split("\n")).toEqual(["4321ms", "1234ms"]);
  });
});

describe("transactions", () => {
  it("refuses a second shard in a transaction with 0A000 naming both, fails it until ROLLBACK, rolls back the first shard", async () => {
    const [a, b] = keysPerShard(wire, 2, 10_000_000);
    await client.query("BEGIN");
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'in tx')", [String(a)]);
    const refused = await client
      .query("INSERT INTO items (id, note) VALUES ($1, 'other shard')", [String(b)])
      .catch((e) => e);
    expect(refused.code).toBe("0A000");
    expect(refused.hint).toContain(`shard ${wire.shardOf(a!)}`);
    expect(refused.hint).toContain(`shard ${wire.shardOf(b!)}`);
    await expect(client.query("SELECT 1")).rejects.toMatchObject({ code: "25P02" });
    await client.query("ROLLBACK");
    const left = await onShard(wire.shardOf(a!), "SELECT id FROM items WHERE id = $1", [String(a)]);
    expect(left).toEqual([]);
    const { rows } = await client.query("SELECT 2 AS two");
    expect(rows).toEqual([{ two: 2 }]);
  });

  it("a read any shard can answer, before the transaction has a shard, does not pin it to the lowest one", async () => {
    const [, onShard1] = keysPerShard(wire, 2, 25_000_000);
    await client.query("BEGIN");
    expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    expect((await client.query("SELECT $1::int AS two", [2])).rows).toEqual([{ two: 2 }]);
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'after a read')", [String(onShard1)]);
    await client.query("COMMIT");
    expect(await onShard(1, "SELECT note FROM items WHERE id = $1", [String(onShard1)])).toEqual([
      { note: "after a read" },
    ]);
  });

  it("commits a transaction on its shard", async () => {
    const [a] = keysPerShard(wire, 2, 20_000_000);
    await client.query("BEGIN");
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'committed')", [String(a)]);
    await client.query("UPDATE items SET note = 'committed twice' WHERE id = $1", [String(a)]);
    await client.query("COMMIT");
    expect(await onShard(wire.shardOf(a!), "SELECT note FROM items WHERE id = $1", [String(a)])).toEqual([
      { note: "committed twice" },
    ]);
  });
});

describe("errors", () => {
  it("an error in an extended-protocol query leaves the connection usable", async () => {
    const [a] = keysPerShard(wire, 1, 30_000_000);
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'once')", [String(a)]);
    const duplicate = await client
      .query("INSERT INTO items (id, note) VALUES ($1, 'twice')", [String(a)])
      .catch((error) => error);
    expect(duplicate.code).toBe("23505");
    const { rows } = await client.query("SELECT note FROM items WHERE id = $1", [String(a)]);
    expect(rows).toEqual([{ note: "once" }]);
  });

  it("a syntax error is 42601 with its position", async () => {
    const error = await client.query("SELEC 1").catch((e) => e);
    expect(error.code).toBe("42601");
    expect(error.position).toBe("1");
  });

  it("named prepared statements work across the pool's connections", async () => {
    const keys = keysPerShard(wire, 2, 40_000_000);
    for (const key of keys) {
      await client.query({
        name: "put",
        text: "INSERT INTO items (id, note) VALUES ($1, $2)",
        values: [String(key), "named"],
      });
    }
    for (const key of keys) {
      const { rows } = await client.query({
        name: "get",
        text: "SELECT note FROM items WHERE id = $1",
        values: [String(key)],
      });
      expect(rows).toEqual([{ note: "named" }]);
    }
  });
});

/** A raw protocol client of the router: sends bytes, collects answers up to the next ReadyForQuery. */
async function rawClient() {
  const connection = await BackendConnection.connect({
    host: "127.0.0.1",
    port: wire.port,
    user: wire.user,
    database: wire.database,
    password: wire.password,
  });
  return {
    connection,
    exchange(bytes: Buffer): Promise<WireMessage[]> {
      const seen: WireMessage[] = [];
      return new Promise((resolve) => {
        connection.receiver = (message) => {
          seen.push({ type: message.type, bytes: Buffer.from(message.bytes) });
          if (message.type === BackendMessageType.ReadyForQuery) resolve(seen);
        };
        connection.write(bytes);
      });
    },
  };
}

const typeName = (m: WireMessage) =>
  Object.entries(BackendMessageType).find(([, code]) => code === m.type)?.[0] ?? String(m.type);

describe("pipelining and cancel", () => {
  it("a pipeline of three Executes with one Sync: rows, the error, nothing more, then ReadyForQuery; the connection still works", async () => {
    const [a] = keysPerShard(wire, 1, 50_000_000);
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'piped')", [String(a)]);
    const raw = await rawClient();
    const step = (sql: string, values: string[]) => [
      serialize.parse({ text: sql }),
      serialize.bind({ values }),
      serialize.describe({ type: "P" }),
      serialize.execute({}),
    ];
    const answers = await raw.exchange(
      Buffer.concat([
        ...step("SELECT note FROM items WHERE id = $1", [String(a)]),
        ...step("INSERT INTO items (id, note) VALUES ($1, 'again')", [String(a)]),
        ...step("SELECT note FROM items WHERE id = $1", [String(a)]),
        serialize.sync(),
      ]),
    );
    expect(answers.map(typeName)).toEqual([
      "ParseComplete",
      "BindComplete",
      "RowDescription",
      "DataRow",
      "CommandComplete",
      "ParseComplete",
      "BindComplete",
      "NoData",
      "ErrorResponse",
      "ReadyForQuery",
    ]);
    expect(noticeFields(answers[8]!).code).toBe("23505");
    expect(answers.at(-1)!.bytes.toString("latin1", 5)).toBe("I");
    const after = await raw.exchange(serialize.query("SELECT 'still here' AS ok"));
    expect(after.map(typeName)).toEqual(["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"]);
    raw.connection.close();
  });

  it("a CancelRequest reaches the shard running the query: 57014", async () => {
    const raw = await rawClient();
    const answered = raw.exchange(serialize.query("SELECT pg_sleep(30)"));
    // Cancel once the sleep runs on a shard (it shows in pg_stat_activity as the app role's query).
    for (;;) {
      const running = await Promise.all(
        wire.world.shards.map((s) =>
          s.pool.query(
            "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
          ),
        ),
      );
      if (running.some((r) => r.rowCount! > 0)) break;
    }
    // The client quotes the router's BackendKeyData; the router forwards to the shard's.
    await raw.connection.cancel();
    const error = (await answered).find((m) => m.type === BackendMessageType.ErrorResponse)!;
    expect(noticeFields(error).code).toBe("57014");
    raw.connection.close();
  });
});

describe("a prepared statement's batch passed through whole", () => {
  /** Bind of `statement` to the unnamed portal, Describe, Execute, Sync: what libpq sends per run. */
  const run = (statement: string, values: string[]) =>
    Buffer.concat([
      serialize.bind({ statement, values }),
      serialize.describe({ type: "P" }),
      serialize.execute({}),
      serialize.sync(),
    ]);
  const rowsOf = (answers: WireMessage[]) =>
    answers.filter((m) => m.type === BackendMessageType.DataRow).map((m) => m.bytes.toString("utf8", 11));
  const statusOf = (answers: WireMessage[]) => answers.at(-1)!.bytes.toString("latin1", 5);

  it("runs the statement the name means now (closed and prepared again), by the key's shard", async () => {
    const [a, b] = keysPerShard(wire, 2, 100_000_000);
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'first'), ($2, 'second')", [
      String(a),
      String(b),
    ]);
    const raw = await rawClient();
    await raw.exchange(
      Buffer.concat([
        serialize.parse({ name: "s1", text: "SELECT note FROM items WHERE id = $1" }),
        serialize.sync(),
      ]),
    );
    expect(rowsOf(await raw.exchange(run("s1", [String(a)])))).toEqual(["first"]);
    expect(rowsOf(await raw.exchange(run("s1", [String(b)])))).toEqual(["second"]);
    await raw.exchange(
      Buffer.concat([
        serialize.close({ type: "S", name: "s1" }),
        serialize.parse({ name: "s1", text: "SELECT note || '!' FROM items WHERE id = $1" }),
        serialize.sync(),
      ]),
    );
    expect(rowsOf(await raw.exchange(run("s1", [String(b)])))).toEqual(["second!"]);
    const failed = await raw.exchange(run("s1", ["not a number"]));
    expect(failed.map(typeName)).toEqual(["ErrorResponse", "ReadyForQuery"]);
    expect(noticeFields(failed[0]!).code).toBe("22P02");
    expect(rowsOf(await raw.exchange(run("s1", [String(a)])))).toEqual(["first!"]);
    raw.connection.close();
  });

  it("in a transaction: runs on its shard, refuses another shard with 0A000, answers T then E", async () => {
    const [a, b] = keysPerShard(wire, 2, 110_000_000);
    await client.query("INSERT INTO items (id, note) VALUES ($1, 'mine'), ($2, 'other')", [
      String(a),
      String(b),
    ]);
    const raw = await rawClient();
    await raw.exchange(
      Buffer.concat([
        serialize.parse({ name: "get", text: "SELECT note FROM items WHERE id = $1" }),
        serialize.sync(),
      ]),
    );
    await raw.exchange(serialize.query("BEGIN"));
    const pinned = await raw.exchange(run("get", [String(a)]));
    expect([rowsOf(pinned), statusOf(pinned)]).toEqual([["mine"], "T"]);
    const again = await raw.exchange(run("get", [String(a)]));
    expect([rowsOf(again), statusOf(again)]).toEqual([["mine"], "T"]);
    const refused = await raw.exchange(run("get", [String(b)]));
    expect(noticeFields(refused.find((m) => m.type === BackendMessageType.ErrorResponse)!).code).toBe(
      "0A000",
    );
    expect(statusOf(refused)).toBe("E");
    expect(statusOf(await raw.exchange(serialize.query("ROLLBACK")))).toBe("I");
    raw.connection.close();
  });
});

describe("simple queries of one shape", () => {
  it("route each key to its own shard, reads and writes alike", async () => {
    const keys = keysPerShard(wire, 2, 120_000_000);
    const session = await wire.client();
    try {
      for (const key of keys)
        await session.query(`INSERT INTO items (id, note) VALUES (${key}, 'shaped ${key}')`);
      for (const key of [...keys, ...keys.toReversed()]) {
        const { rows } = await session.query(`SELECT note FROM items WHERE id = ${key}`);
        expect(rows).toEqual([{ note: `shaped ${key}` }]);
      }
      for (const key of keys) await session.query(`UPDATE items SET note = 'reshaped' WHERE id = ${key}`);
    } finally {
      await session.end();
    }
    for (const [index, key] of keys.entries()) {
      expect(await onShard(index, "SELECT note FROM items WHERE id = $1", [String(key)])).toEqual([
        { note: "reshaped" },
      ]);
    }
  });
});

describe("large results", () => {
  it("relays a 20 MB result whole, in order", async () => {
    const out = await wire.psql([
      "-At",
      "-c",
      "SELECT g, repeat('x', 200) FROM generate_series(1, 100000) g",
    ]);
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(100_000);
    expect(lines.at(-1)).toBe(`100000|${"x".repeat(200)}`);
  });
});

describe("metrics", () => {
  it("counts client connections, statements by route, server connections per shard and plan cache hits", async () => {
    for (const id of [1, 2, 3, 4]) await client.query(`SELECT note FROM items WHERE id = ${id}`);
    await client.query("SELECT note FROM items WHERE id = 1");
    expect(
      await wire.metric("dbplane_router_wire_client_connections", { database: DB }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await wire.metric("dbplane_router_wire_statements_total", { database: DB, route: "keyed" }),
    ).toBeGreaterThan(0);
    expect(
      await wire.metric("dbplane_router_wire_statements_total", { database: DB, route: "broadcast" }),
    ).toBeGreaterThan(0);
    const open = await wire.metric("dbplane_router_wire_server_connections", { shard: "1" });
    expect(open).toBeGreaterThan(0);
    expect(open).toBeLessThanOrEqual(2);
    expect(await wire.metric("dbplane_router_wire_plan_cache", { outcome: "hit" })).toBeGreaterThan(0);
  });

  it("counts client chunks and server replies by the path they took", async () => {
    const chunks = (path: string) => wire.metric("dbplane_router_wire_client_chunks_total", { path });
    const replies = (path: string) => wire.metric("dbplane_router_wire_server_replies_total", { path });
    const paths = ["prepared_batch", "simple_shape", "simple_query", "message"];
    const replyPaths = ["relayed_whole", "relayed_split", "message"];
    const before = {
      chunks: await Promise.all(paths.map(chunks)),
      replies: await Promise.all(replyPaths.map(replies)),
    };
    const [a, b] = keysPerShard(wire, 2, 120_000_000);
    const raw = await rawClient();
    // Parse + Sync: framed, message by message.
    await raw.exchange(
      Buffer.concat([
        serialize.parse({ name: "counted", text: "SELECT note FROM items WHERE id = $1" }),
        serialize.sync(),
      ]),
    );
    // Bind, Describe, Execute, Sync of it, twice: the prepared batch path.
    for (const key of [a, b]) {
      await raw.exchange(
        Buffer.concat([
          serialize.bind({ statement: "counted", values: [String(key)] }),
          serialize.describe({ type: "P" }),
          serialize.execute({}),
          serialize.sync(),
        ]),
      );
    }
    // A keyed Query planned, then one of the same shape for another key.
    await raw.exchange(serialize.query(`SELECT note FROM items WHERE id = ${a}`));
    await raw.exchange(serialize.query(`SELECT note FROM items WHERE id = ${b}`));
    raw.connection.close();
    const after = {
      chunks: await Promise.all(paths.map(chunks)),
      replies: await Promise.all(replyPaths.map(replies)),
    };
    const grown = (i: number) => after.chunks[i]! - before.chunks[i]!;
    expect(grown(0)).toBe(2);
    expect(grown(1)).toBe(1);
    expect(grown(2)).toBe(1);
    expect(grown(3)).toBeGreaterThanOrEqual(1);
    // Each of the four relayed replies counted once, whichever way it came; PostgreSQL sends a
    // small answer in one write, so at least one was relayed as the chunk read.
    const replyGrowth = replyPaths.map((_, i) => after.replies[i]! - before.replies[i]!);
    expect(replyGrowth.reduce((x, y) => x + y, 0)).toBe(4);
    expect(replyGrowth[0]).toBeGreaterThan(0);
  });
});

describe("psql", () => {
  it("describes tables, copies rows in split by key and out from every shard", async () => {
    const described = await wire.psql(["-c", "\\d items"]);
    expect(described).toContain("id");
    const lines = Array.from({ length: 50 }, (_, i) => `${90_000_000 + i}\tcopied ${i}`).join("\n");
    await wire.psql(["-c", "\\copy items (id, note) from stdin"], `${lines}\n`);
    for (const shard of [0, 1]) {
      const rows = await onShard<{ id: string }>(shard, "SELECT id FROM items WHERE note LIKE 'copied %'");
      for (const row of rows) expect(wire.shardOf(BigInt(row.id))).toBe(shard);
    }
    const out = await wire.psql(["-c", "\\copy (SELECT id FROM items WHERE note LIKE 'copied %') to stdout"]);
    expect(out.trim().split("\n").sort()).toEqual(
      Array.from({ length: 50 }, (_, i) => String(90_000_000 + i)).sort(),
    );
    const count = await wire.psql(["-At", "-c", "SELECT count(*) FROM items WHERE note LIKE 'copied %'"]);
    expect(count.trim()).toBe("50");
  });
});

// Last: it deletes the database.
describe("a deleted database", () => {
  it("refuses new logins (28P01: its role went with it) and closes the router's connections to its shards", async () => {
    const before = await wire.world.shards[0]!.pool.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'dbplane-router-wire'",
      [wire.user],
    );
    expect(before.rows[0].n).toBeGreaterThan(0);
    await client.end();
    await wire.world.bus.publish(
      databaseDeleted,
      { name: DB, volumesKept: false },
      { subject: DB, id: uniqueName("deleted") },
    );
    await waitFor(
      async () => {
        const error = await wire.client().then(
          async (c) => {
            await c.end();
            return undefined;
          },
          (e) => e,
        );
        return error?.code === "28P01";
      },
      { what: "the wire endpoint to forget the database", timeoutMs: 15_000, intervalMs: 100 },
    );
    await waitFor(
      async () => {
        const { rows } = await wire.world.shards[0]!.pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'dbplane-router-wire'",
          [wire.user],
        );
        return rows[0].n === 0;
      },
      { what: "the router's shard connections to close", timeoutMs: 30_000, intervalMs: 200 },
    );
  });
});
