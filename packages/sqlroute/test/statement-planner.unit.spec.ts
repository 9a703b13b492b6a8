import { beforeAll, describe, expect, it } from "vitest";
import { loadParser, PlanError, type StatementPlan, StatementPlanner } from "../src/index.ts";
import { TABLES } from "./planner-fixtures.ts";

let planner: StatementPlanner;
beforeAll(async () => {
  await loadParser();
  planner = new StatementPlanner(TABLES);
});

const plan = (sql: string): StatementPlan => planner.planStatement(sql);
const c = (value: string) => ({ kind: "const", value }) as const;
const p = (n: number) => ({ kind: "param", index: n - 1 }) as const;

describe("pgbench's statements", () => {
  it.each([
    ["UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;", [p(2)], true],
    ["SELECT abalance FROM pgbench_accounts WHERE aid = $1;", [p(1)], false],
    ["UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;", [p(2)], true],
    ["UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;", [p(2)], true],
    [
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
      [p(3)],
      true,
    ],
    ["UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 77;", [c("77")], true],
    ["SELECT abalance FROM pgbench_accounts WHERE aid = 77;", [c("77")], false],
    ["UPDATE pgbench_tellers SET tbalance = tbalance + 12 WHERE tid = 3;", [c("3")], true],
    ["UPDATE pgbench_branches SET bbalance = bbalance + 12 WHERE bid = 1;", [c("1")], true],
    [
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77, -4321, CURRENT_TIMESTAMP);",
      [c("77")],
      true,
    ],
  ])("%s is keyed", (sql, keys, write) => {
    expect(plan(sql)).toMatchObject({ kind: "keyed", keyType: "integer", keys, write });
  });

  it.each([
    "drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
    "create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler char(22))",
    "create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)",
    "truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
    "alter table pgbench_branches add primary key (bid)",
    "vacuum analyze pgbench_branches",
    "insert into pgbench_branches_unsharded(bid,bbalance) values(1,0)",
    "CREATE INDEX ON pgbench_accounts (bid)",
  ])("%s is broadcast", (sql) => {
    expect(plan(sql)).toEqual({ sql, kind: "broadcast", write: true });
  });

  it("copy pgbench_accounts from stdin is a keyed copy-in whose key index comes from the catalog", () => {
    expect(plan("copy pgbench_accounts from stdin with (freeze on)")).toMatchObject({
      kind: "copy-in",
      table: "pgbench_accounts",
      keyType: "integer",
      keyColumn: "aid",
      copyFormat: { format: "text", delimiter: "\t", header: false, null: "\\N" },
    });
  });

  it("pgbench's start-up count(*) scatters", () => {
    expect(plan("select count(*) from pgbench_branches")).toMatchObject({ kind: "scatter" });
  });
});

describe("keyed reads and writes", () => {
  it.each([
    ["SELECT * FROM pgbench_accounts WHERE aid IN (1, 2, $1)", [c("1"), c("2"), p(1)]],
    ["SELECT * FROM pgbench_accounts WHERE bid = 3 AND aid = '42'::bigint", [c("42")]],
    ["SELECT * FROM pgbench_accounts WHERE 42 = aid", [c("42")]],
    ["SELECT * FROM pgbench_accounts WHERE aid = $1::int8 AND (abalance > 0 OR bid = 2)", [p(1)]],
    ["SELECT * FROM public.pgbench_accounts a WHERE a.aid = 0", [c("0")]],
    ["SELECT * FROM pgbench_accounts WHERE aid = -5", [c("-5")]],
    ["SELECT * FROM pgbench_accounts WHERE aid = 9223372036854775807", [c("9223372036854775807")]],
    ["SELECT * FROM pgbench_accounts a JOIN pgbench_history h ON h.aid = a.aid WHERE a.aid = $1", [p(1)]],
    [
      "SELECT * FROM pgbench_accounts a WHERE a.aid = 7 AND NOT EXISTS (SELECT 1 FROM pgbench_history h WHERE h.aid = a.aid)",
      [c("7")],
    ],
    [
      "SELECT * FROM pgbench_accounts a, pgbench_branches b WHERE a.aid = 5 AND b.bid = 5 AND a.bid = b.bid",
      [c("5")],
    ],
  ])("%s", (sql, keys) => {
    expect(plan(sql)).toMatchObject({ kind: "keyed", keys, write: false });
  });

  it.each([
    ["DELETE FROM pgbench_accounts WHERE aid = $1", [p(1)]],
    ["UPDATE pgbench_accounts SET bid = 2 WHERE aid = 7 RETURNING *", [c("7")]],
    ["DELETE FROM shop.orders WHERE customer = 'ann' AND total > 3", [c("ann")]],
    ["INSERT INTO shop.orders (total, customer) VALUES (3, 'bob') ON CONFLICT DO NOTHING", [c("bob")]],
    ["INSERT INTO events (id) VALUES ('42'::bigint)", [c("42")]],
  ])("%s", (sql, keys) => {
    expect(plan(sql)).toMatchObject({ kind: "keyed", keys, write: true });
  });

  it("takes the key type from the table", () => {
    expect(plan("SELECT * FROM shop.orders WHERE customer = 'x'")).toMatchObject({ keyType: "text" });
    expect(plan("SELECT * FROM events WHERE id = 1")).toMatchObject({ keyType: "bigint" });
  });
});

describe("table names", () => {
  it.each([
    ["SELECT * FROM pgbench_accounts WHERE aid = 1", "keyed"],
    ["SELECT * FROM public.pgbench_accounts WHERE aid = 1", "keyed"],
    ["SELECT * FROM PGBENCH_ACCOUNTS WHERE AID = 1", "keyed"],
    ['SELECT * FROM "pgbench_accounts" WHERE "aid" = 1', "keyed"],
    // A quoted name keeps its case: "PGBENCH_ACCOUNTS" is another table, which lives on every shard.
    ['SELECT * FROM "PGBENCH_ACCOUNTS" WHERE aid = 1', "any"],
    ["SELECT * FROM other.pgbench_accounts WHERE aid = 1", "any"],
    ["SELECT * FROM shop.orders WHERE customer = 'a'", "keyed"],
    ["SELECT * FROM orders WHERE customer = 'a'", "any"],
    ["WITH pgbench_accounts AS (SELECT 1 AS aid) SELECT * FROM pgbench_accounts", "any"],
  ])("%s plans %s", (sql, kind) => {
    expect(plan(sql).kind).toBe(kind);
  });

  // On every shard such an INSERT would copy its rows to each: refused even with scatter writes on.
  it.each([
    ["INSERT INTO pgbench_accounts VALUES (1, 1, 0, '')", "without a column list"],
    ["INSERT INTO pgbench_accounts (bid) VALUES (1)", "does not name aid"],
    ["INSERT INTO pgbench_accounts (aid) VALUES (nextval('s'))", "not a literal or a parameter"],
    ["INSERT INTO pgbench_accounts DEFAULT VALUES", "DEFAULT VALUES"],
  ])("%s carries an INSERT refusal (%s)", (sql, why) => {
    const planned = plan(sql);
    expect(planned.kind === "scatter-write" && planned.insertRefusal?.message).toContain(why);
  });

  it("an UPDATE without a key carries no INSERT refusal: scatter writes may run it", () => {
    const planned = plan("UPDATE pgbench_accounts SET abalance = 0");
    expect(planned.kind === "scatter-write" && planned.insertRefusal).toBeUndefined();
  });
});

describe("statements without a key", () => {
  it.each([
    ["SELECT 1", "any"],
    ["SHOW server_version", "any"],
    ["SELECT * FROM pg_catalog.pg_class WHERE relname = 'x'", "any"],
    ["SELECT * FROM pgbench_accounts WHERE aid > 5", "scatter"],
    ["SELECT * FROM pgbench_accounts WHERE aid = 1 OR aid = 2", "scatter"],
    ["SELECT * FROM pgbench_accounts a JOIN pgbench_history h ON h.aid = a.aid", "scatter"],
    ["UPDATE pgbench_accounts SET abalance = 0", "scatter-write"],
    ["DELETE FROM pgbench_accounts WHERE bid = 1", "scatter-write"],
    ["INSERT INTO pgbench_accounts VALUES (1, 1, 0, '')", "scatter-write"],
    ["INSERT INTO pgbench_accounts (bid) VALUES (1)", "scatter-write"],
    ["INSERT INTO pgbench_accounts (aid) VALUES (nextval('s'))", "scatter-write"],
    ["INSERT INTO pgbench_accounts DEFAULT VALUES", "scatter-write"],
    ["UPDATE config SET v = 1", "broadcast"],
    ["DELETE FROM config", "broadcast"],
  ])("%s plans %s", (sql, kind) => {
    expect(plan(sql).kind).toBe(kind);
  });
});

describe("refused statements", () => {
  it.each([
    "SELECT * FROM pgbench_accounts a JOIN pgbench_branches b ON a.bid = b.bid",
    "SELECT * FROM pgbench_accounts a, pgbench_history h WHERE a.aid = 1 AND h.aid = 2",
    "SELECT * FROM pgbench_accounts WHERE bid IN (SELECT bid FROM pgbench_branches)",
    "SELECT * FROM (SELECT * FROM pgbench_accounts ORDER BY aid LIMIT 3) s",
    "SELECT aid FROM pgbench_accounts UNION SELECT aid FROM pgbench_history",
    "INSERT INTO config SELECT * FROM pgbench_accounts",
    "UPDATE pgbench_accounts SET aid = 2 WHERE aid = 1",
    "INSERT INTO pgbench_accounts (aid) SELECT generate_series(1, 10)",
    "SELECT * FROM pgbench_accounts a JOIN shop.orders o ON o.customer = 'x' WHERE a.aid = 1",
    "COPY pgbench_accounts FROM '/etc/passwd'",
    "COPY pgbench_accounts (bid) FROM STDIN",
    "LISTEN x",
    "PREPARE q AS SELECT 1",
  ])("%s is refused with 0A000 and a hint", (sql) => {
    const result = plan(sql);
    expect(result).toMatchObject({ kind: "refused", code: "0A000" });
    expect(result.kind === "refused" && result.message.length > 10).toBe(true);
  });
});

describe("the shard key hint", () => {
  it.each([
    ["/* dbplane_shard_key: 42 */ SELECT * FROM pgbench_accounts WHERE bid = 1", "42", "integer", false],
    ["SELECT count(*) FROM pgbench_accounts /* dbplane_shard_key: '7' */", "7", "integer", false],
    ["UPDATE pgbench_accounts SET abalance = 0 /*dbplane_shard_key:ann*/", "ann", "integer", true],
    ['SELECT now() /* dbplane_shard_key: "a b" */', "a b", "text", false],
    ["CREATE TABLE t (a int) /* dbplane_shard_key: 3 */", "3", "text", true],
  ])("%s", (sql, value, keyType, write) => {
    expect(plan(sql)).toEqual({ sql, kind: "keyed", keyType, keys: [c(value)], write });
  });

  it("inside a string literal is data, not a hint", () => {
    expect(plan("SELECT '/* dbplane_shard_key: 42 */' FROM pgbench_accounts").kind).toBe("scatter");
  });
});

describe("transaction control and settings", () => {
  it.each([
    ["BEGIN", "begin", false],
    ["BEGIN READ ONLY", "begin", true],
    ["START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY", "begin", true],
    ["START TRANSACTION READ WRITE", "begin", false],
    ["COMMIT", "commit", false],
    ["END", "commit", false],
    ["ROLLBACK", "rollback", false],
    ["ABORT", "rollback", false],
    ["SAVEPOINT s1", "savepoint", false],
    ["RELEASE SAVEPOINT s1", "release", false],
    ["ROLLBACK TO SAVEPOINT s1", "rollback-to", false],
    ["PREPARE TRANSACTION 'g1'", "prepare", false],
  ])("%s", (sql, action, readOnly) => {
    expect(plan(sql)).toMatchObject({ kind: "transaction", action, readOnly });
  });

  it.each([
    ["SET dbplane.shard_key = '42'", "dbplane.shard_key", "42", false],
    ["SET dbplane.allow_scatter_writes = on", "dbplane.allow_scatter_writes", "on", false],
    ["SET LOCAL dbplane.read_from TO replica", "dbplane.read_from", "replica", true],
    ["SET search_path TO app, public", "search_path", "app, public", false],
    ["SET statement_timeout = 5000", "statement_timeout", "5000", false],
    ["SET TIME ZONE 'UTC'", "timezone", "UTC", false],
    ["RESET statement_timeout", "statement_timeout", null, false],
    ["SET work_mem TO DEFAULT", "work_mem", null, false],
    ["RESET ALL", "all", null, false],
    ["DISCARD ALL", "discard", "all", false],
  ])("%s", (sql, name, value, local) => {
    expect(plan(sql)).toEqual({ sql, kind: "set", name, value, local });
  });
});

describe("copy", () => {
  it.each([
    ["COPY pgbench_accounts TO STDOUT", true],
    ["COPY (SELECT * FROM pgbench_accounts WHERE bid = 1) TO STDOUT", true],
    ["COPY config TO STDOUT WITH (FORMAT csv)", false],
  ])("%s is copy-out", (sql, sharded) => {
    expect(plan(sql)).toEqual({ sql, kind: "copy-out", sharded });
  });

  it("a column list gives the key's index and the format options are reported", () => {
    expect(
      plan("COPY shop.orders (total, customer) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')"),
    ).toMatchObject({
      kind: "copy-in",
      table: "shop.orders",
      keyType: "text",
      keyColumnIndex: 1,
      columns: ["total", "customer"],
      copyFormat: { format: "csv", delimiter: ";", header: true, quote: '"', null: "" },
    });
  });

  it("an unsharded table's copy-in has no key", () => {
    expect(plan("COPY config FROM STDIN")).toMatchObject({ kind: "copy-in", table: "config" });
    expect(plan("COPY config FROM STDIN")).not.toHaveProperty("keyType");
  });
});

describe("query strings", () => {
  it("splits a multi-statement string, each plan carrying its own statement's text", () => {
    const sql =
      "BEGIN; UPDATE pgbench_accounts SET filler = 'a;b' WHERE aid = 1; -- x;y\n/* dbplane_shard_key: 9 */ SELECT 'é' ;;COMMIT";
    const plans = planner.planQuery(sql);
    expect(plans.map((x) => [x.kind, x.sql])).toEqual([
      ["transaction", "BEGIN"],
      ["keyed", "UPDATE pgbench_accounts SET filler = 'a;b' WHERE aid = 1"],
      // Comments after a statement's semicolon open the next statement (its hint included).
      ["keyed", "-- x;y\n/* dbplane_shard_key: 9 */ SELECT 'é' "],
      ["transaction", "COMMIT"],
    ]);
    expect(plans[2]).toMatchObject({ keys: [c("9")] });
  });

  it("an empty string has no statements; a prepared statement of it is the empty query", () => {
    expect(planner.planQuery("")).toEqual([]);
    expect(planner.planQuery(" ; -- nothing\n")).toEqual([]);
    expect(plan("")).toEqual({ sql: "", kind: "empty" });
  });

  it("refuses several statements in one prepared statement", () => {
    expect(() => plan("SELECT 1; SELECT 2")).toThrow(
      expect.objectContaining({
        code: "42601",
        message: "cannot insert multiple commands into a prepared statement",
      }),
    );
  });

  it("reports a syntax error with SQLSTATE 42601 and PostgreSQL's 1-based character position", () => {
    const error = (() => {
      try {
        planner.planQuery("SELECT 'é' FROMM x");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PlanError);
    expect(error).toMatchObject({ code: "42601", position: 18, message: 'syntax error at or near "x"' });
  });

  it("caches plans by statement text and counts hits and misses", () => {
    const own = new StatementPlanner(TABLES, { cacheSize: 2 });
    own.planQuery("SELECT 1");
    own.planQuery("SELECT 1");
    own.planQuery("SELECT 2");
    own.planQuery("SELECT 3"); // evicts SELECT 1, the least recently used
    own.planQuery("SELECT 2");
    own.planQuery("SELECT 1");
    expect({ hits: own.cacheHits, misses: own.cacheMisses }).toEqual({ hits: 2, misses: 4 });
  });

  it("counts a statement planned from its shape as a hit, without parsing it or caching its text", () => {
    const own = new StatementPlanner(TABLES, { cacheSize: 2 });
    own.planQuery("SELECT abalance FROM pgbench_accounts WHERE aid = 1");
    own.planQuery("SELECT 1"); // the text cache holds this and the first statement
    for (let aid = 2; aid < 10; aid++)
      own.planQuery(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid}`);
    own.planQuery("SELECT 1"); // still cached: the shape's statements took no text entry
    expect({ hits: own.cacheHits, misses: own.cacheMisses }).toEqual({ hits: 9, misses: 2 });
  });
});

describe("statements differing only in integer literals", () => {
  // A planner that has seen the first statement of each pair plans the second as a planner that
  // never saw anything does (the shape cache gives it the first one's plan with its own key).
  it.each([
    [
      "SELECT abalance FROM pgbench_accounts WHERE aid = 77;",
      "SELECT abalance FROM pgbench_accounts WHERE aid = 912;",
    ],
    [
      "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 77;",
      "UPDATE pgbench_accounts SET abalance = abalance + -12 WHERE aid = 5;",
    ],
    [
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77, -4321, CURRENT_TIMESTAMP);",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (4, 2, 8, 10, CURRENT_TIMESTAMP);",
    ],
    [
      "SELECT * FROM pgbench_accounts WHERE aid IN (1, 2)",
      "SELECT * FROM pgbench_accounts WHERE aid IN (3, 3)",
    ],
    [
      "SELECT * FROM pgbench_accounts WHERE aid = 5 AND bid = 5",
      "SELECT * FROM pgbench_accounts WHERE aid = 6 AND bid = 7",
    ],
    [
      "SELECT * FROM pgbench_accounts WHERE aid = 5 LIMIT 5",
      "SELECT * FROM pgbench_accounts WHERE aid = 6 LIMIT 1",
    ],
    [
      "SELECT * FROM pgbench_accounts WHERE aid = 5",
      "SELECT * FROM pgbench_accounts WHERE aid = 99999999999999999999",
    ],
    ["SELECT * FROM pgbench_accounts WHERE aid = 5", "SELECT * FROM pgbench_accounts WHERE aid = 5.5"],
    [
      "SELECT count(*) FROM pgbench_accounts WHERE aid > 5",
      "SELECT count(*) FROM pgbench_accounts WHERE aid > 6",
    ],
    ["SELECT * FROM pgbench_accounts WHERE aid = 5", "SELECT * FROM pgbench_accounts WHERE aid = '6'"],
  ])("%s, then %s", (first, second) => {
    const warm = new StatementPlanner(TABLES);
    warm.planQuery(first);
    expect(warm.planQuery(second)).toEqual(new StatementPlanner(TABLES).planQuery(second));
  });
});
