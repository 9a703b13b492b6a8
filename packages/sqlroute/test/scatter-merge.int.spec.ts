import { createTestSchema, type TestSchema } from "@dbplane/testkit";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadParser, mergeRows, StatementPlanner } from "../src/index.ts";
import { TABLES } from "./planner-fixtures.ts";

/**
 * The scatter's answer must be the one server's answer: two schemas stand for two shards (rows
 * split by aid), a third holds every row. Each query runs as the plan's rewrittenSql on the
 * "shards", mergeRows combines their text rows, and the result is compared with PostgreSQL's own
 * answer to the client's query over all the rows.
 */
let shards: TestSchema[];
let whole: TestSchema;
let planner: StatementPlanner;

const CREATE = `CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler text, price numeric, ratio float8)`;
const rowsSql = (where: string) => `INSERT INTO pgbench_accounts
  SELECT aid, aid % 4 + 1, (aid * 37) % 101 - 50, 'f' || (aid % 7),
         CASE WHEN aid % 9 = 0 THEN NULL ELSE aid * 1.25 END, aid * 0.5
  FROM generate_series(1, 40) AS aid WHERE ${where}`;

beforeAll(async () => {
  await loadParser();
  planner = new StatementPlanner(TABLES);
  shards = [await createTestSchema("sqlroute_s0"), await createTestSchema("sqlroute_s1")];
  whole = await createTestSchema("sqlroute_all");
  for (const [schema, where] of [
    [shards[0]!, "aid % 2 = 0"],
    [shards[1]!, "aid % 2 = 1"],
    [whole, "true"],
  ] as const) {
    await schema.pool.query(CREATE);
    await schema.pool.query(rowsSql(where));
  }
});

afterAll(async () => {
  await Promise.all([...(shards ?? []), ...(whole === undefined ? [] : [whole])].map((s) => s.drop()));
});

/** Text-format values, as the wire protocol carries them, and the columns' type OIDs. */
async function textRows(pool: pg.Pool, sql: string, params: readonly unknown[]) {
  const result = await pool.query({
    text: sql,
    values: [...params],
    rowMode: "array",
    types: { getTypeParser: () => (value: string) => value },
  });
  return { rows: result.rows as (string | null)[][], oids: result.fields.map((f) => f.dataTypeID) };
}

async function scatter(sql: string, params: readonly (string | null)[] = []) {
  const plan = planner.planStatement(sql);
  if (plan.kind !== "scatter") throw new Error(`expected a scatter plan, got ${plan.kind}`);
  const answers = await Promise.all(shards.map((s) => textRows(s.pool, plan.rewrittenSql, params)));
  return mergeRows(
    plan.merge,
    answers[0]!.oids,
    answers.map((a) => a.rows),
    params,
  );
}

const sorted = (rows: readonly (string | null)[][]) => [...rows].map((r) => JSON.stringify(r)).sort();

describe("a scatter read answers what one server holding every row answers", () => {
  it.each([
    ["SELECT count(*) FROM pgbench_accounts"],
    [
      "SELECT sum(abalance), min(price), max(filler), avg(abalance), avg(price), avg(ratio), sum(ratio) FROM pgbench_accounts",
    ],
    ["SELECT sum(abalance), avg(price), count(price) FROM pgbench_accounts WHERE aid < 0"],
    [
      "SELECT bid, count(*), sum(abalance), avg(abalance), min(filler), max(price) FROM pgbench_accounts GROUP BY bid ORDER BY bid",
    ],
    ["SELECT bid, count(*) FROM pgbench_accounts GROUP BY bid ORDER BY count(*) DESC, bid LIMIT 2"],
    ["SELECT abalance % 3 AS m, count(*) FROM pgbench_accounts GROUP BY 1 ORDER BY m DESC"],
    [
      "SELECT filler, sum(price) FROM pgbench_accounts GROUP BY filler ORDER BY 2 DESC NULLS LAST, 1 LIMIT 3 OFFSET 1",
    ],
    ["SELECT aid, abalance FROM pgbench_accounts ORDER BY abalance DESC, aid LIMIT 5 OFFSET 3"],
    ["SELECT filler, aid FROM pgbench_accounts ORDER BY price NULLS FIRST, aid LIMIT 6"],
    ["SELECT * FROM pgbench_accounts ORDER BY ratio DESC LIMIT 3"],
    ["SELECT DISTINCT bid FROM pgbench_accounts ORDER BY bid DESC LIMIT 2"],
    ["SELECT DISTINCT filler FROM pgbench_accounts ORDER BY filler OFFSET 2"],
  ])("%s", async (sql) => {
    const expected = await textRows(whole.pool, sql, []);
    expect(await scatter(sql)).toEqual(expected.rows);
  });

  it("an unordered read returns every shard's rows", async () => {
    const sql = "SELECT aid, bid FROM pgbench_accounts WHERE abalance > 0";
    const expected = await textRows(whole.pool, sql, []);
    expect(sorted(await scatter(sql))).toEqual(sorted(expected.rows));
  });

  it("LIMIT and OFFSET as parameters", async () => {
    const sql = "SELECT aid FROM pgbench_accounts ORDER BY abalance, aid LIMIT $1 OFFSET $2";
    const expected = await textRows(whole.pool, sql, ["4", "5"]);
    expect(await scatter(sql, ["4", "5"])).toEqual(expected.rows);
  });
});
